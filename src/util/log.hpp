// One log line to stderr with a single write(2), so lines from the primary and its workers
// never interleave mid-line.
#pragma once

#include <string_view>

namespace hive::detail {

void log_line(std::string_view line);

}  // namespace hive::detail

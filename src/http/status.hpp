// The reason phrases of the status codes hive sends, for the status line.
#pragma once

#include <string_view>

namespace hive::detail {

// "Not Found" for 404; "Unknown" for a code with no registered phrase.
std::string_view reason_phrase(int status);

}  // namespace hive::detail

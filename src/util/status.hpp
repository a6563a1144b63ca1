// The reason phrases of the status codes hive sends, for the status line.
#pragma once

#include <string_view>

namespace hive::detail {

// "Not Found" for 404; "Unknown" for a code with no registered phrase.
std::string_view reason_phrase(int status);

// "HTTP/1.1 404 Not Found\r\n", built once per process for every code 100..599.
std::string_view status_line(int status);

}  // namespace hive::detail

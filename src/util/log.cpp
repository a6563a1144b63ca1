#include "util/log.hpp"

#include <unistd.h>

#include <string>

namespace hive::detail {

void log_line(std::string_view line) {
  std::string s;
  s.reserve(line.size() + 1);
  s.append(line);
  s.push_back('\n');
  const char* p = s.data();
  std::size_t left = s.size();
  while (left > 0) {
    const ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n <= 0) return;  // nowhere to log to: not worth failing a request over
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

}  // namespace hive::detail

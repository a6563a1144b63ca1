#include "util/log.hpp"

#include <unistd.h>

namespace hive::detail {

namespace {
void write_all(std::string_view s) {
  const char* p = s.data();
  std::size_t left = s.size();
  while (left > 0) {
    const ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n <= 0) return;  // nowhere to log to: not worth failing a request over
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}
}  // namespace

void log_line(std::string_view line) {
  std::string s;
  s.reserve(line.size() + 1);
  s.append(line);
  s.push_back('\n');
  write_all(s);
}

namespace log_text {

void begin(std::string& line, std::string_view sep) {
  line.reserve(128);
  line += "hive ";
  append(line, ::getpid());
  line += sep;
}

void end(std::string& line) {
  line += '\n';
  write_all(line);
}

}  // namespace log_text

}  // namespace hive::detail

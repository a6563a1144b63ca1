#include "util/log.hpp"

#include <time.h>
#include <unistd.h>

#include <cstdio>

namespace hive::detail {

namespace {

// Process-wide, set before the first fork and never after: no lock needed.
bool json_lines = false;
int log_slot = -1;

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

// The length of the well-formed UTF-8 sequence at s[i] (RFC 3629's table), or 0.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  std::size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // the second byte's range
  if (c >= 0xC2 && c <= 0xDF) n = 2;
  else if (c >= 0xE0 && c <= 0xEF) n = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
  else if (c >= 0xF0 && c <= 0xF4) n = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
  else return 0;
  if (i + n > s.size() || b(i + 1) < lo || b(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k) {
    if (b(i + k) < 0x80 || b(i + k) > 0xBF) return 0;
  }
  return n;
}

// A JSON string's contents; bytes that are not UTF-8 (a client's path, say) become U+FFFD, so
// every line parses.
void json_escape(std::string& out, std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const std::size_t n = utf8_length(s, i);
      if (n == 0) {
        out += "\\ufffd";
        ++i;
      } else {
        out.append(s.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7F) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
}

// {"time":…,"level":…,"pid":…,"slot":…,"message":…}\n
std::string json_line(std::string_view level, std::string_view message) {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  tm t{};
  ::gmtime_r(&ts.tv_sec, &t);
  char when[96];  // room for any year snprintf could be asked to print
  std::snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", t.tm_year + 1900, t.tm_mon + 1,
                t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, static_cast<int>(ts.tv_nsec / 1000000));
  std::string out;
  out.reserve(message.size() + 96);
  out += "{\"time\":\"";
  out += when;
  out += "\",\"level\":\"";
  out += level;
  out += "\",\"pid\":";
  log_text::append(out, ::getpid());
  out += ",\"slot\":";
  if (log_slot >= 0) log_text::append(out, log_slot);
  else out += "null";
  out += ",\"message\":\"";
  json_escape(out, message);
  out += "\"}\n";
  return out;
}

}  // namespace

void set_log_json(bool json) { json_lines = json; }
void set_log_slot(int slot) { log_slot = slot; }

void log_line(std::string_view line) {
  if (json_lines) {
    write_all(json_line("error", line));
    return;
  }
  std::string s;
  s.reserve(line.size() + 1);
  s.append(line);
  s.push_back('\n');
  write_all(s);
}

namespace log_text {

void begin(std::string& line, std::string_view sep) {
  line.reserve(128);
  if (json_lines) {
    // The level, taken off again by end(): a warning is the line whose separator is a colon.
    line += sep == " " ? 'I' : 'W';
    return;
  }
  line += "hive ";
  append(line, ::getpid());
  line += sep;
}

void end(std::string& line) {
  if (json_lines && !line.empty()) {
    const std::string_view level = line[0] == 'W' ? "warn" : "info";
    write_all(json_line(level, std::string_view(line).substr(1)));
    return;
  }
  line += '\n';
  write_all(line);
}

}  // namespace log_text

}  // namespace hive::detail

// hive's log: one line per event on stderr, each written with a single write(2) so lines from the
// primary and its workers never interleave mid-line, and each led by the writing process's pid:
//
//   log("started worker ", pid, " (slot ", k, ")");   // "hive 100 started worker 101 (slot 0)"
//   warn("dropped a message from ", who);            // "hive 100: dropped a message from …"
//
// `log` reports what happens; `warn` what went wrong (the colon sets it apart). A part is
// anything a std::string_view is made from, a char, or an integer.
#pragma once

#include <charconv>
#include <concepts>
#include <string>
#include <string_view>

namespace hive::detail {

// `--log-format json`: each line one JSON object instead,
//   {"time":"2026-11-30T20:40:00.123Z","level":"info","pid":100,"slot":0,"message":"…"}
// (`slot` null in the primary; level "info" for log, "warn" for warn, "error" for log_line).
// Set once at start-up, before any fork: workers inherit it.
void set_log_json(bool json);
// This process's slot, for JSON lines (a worker sets it as it starts).
void set_log_slot(int slot);

// The line as given, with no prefix (messages that carry their own, e.g. a bind error's what()).
void log_line(std::string_view line);

namespace log_text {
// "hive <pid>" then `sep`: the pid is read each time, so a forked worker logs its own.
void begin(std::string& line, std::string_view sep);
// Ends the line and writes it.
void end(std::string& line);
inline void append(std::string& line, std::string_view s) { line += s; }
inline void append(std::string& line, char c) { line += c; }
template <std::integral Int>
  requires(!std::same_as<Int, char> && !std::same_as<Int, bool>)
void append(std::string& line, Int n) {
  char buf[24];
  line.append(buf, static_cast<std::size_t>(std::to_chars(buf, buf + sizeof buf, n).ptr - buf));
}
}  // namespace log_text

template <class... Parts>
void log(const Parts&... parts) {
  std::string line;
  log_text::begin(line, " ");
  (log_text::append(line, parts), ...);
  log_text::end(line);
}

template <class... Parts>
void warn(const Parts&... parts) {
  std::string line;
  log_text::begin(line, ": ");
  (log_text::append(line, parts), ...);
  log_text::end(line);
}

}  // namespace hive::detail

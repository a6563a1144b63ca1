// The access log (options::access_log): one line per response in Common or Combined Log Format or
// as a JSON object, appended to a per-worker buffer and written every 100 ms or at 64 KiB, never
// one write per request. A write that fails (full disk, closed stdout) drops what it held and is
// reported at most once every 10 s: logging never stops serving. Lines are written whole; into a
// pipe (stdout read by a supervisor) in pieces of at most PIPE_BUF, so lines of several workers
// sharing it never interleave.
#pragma once

#include <cstdint>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include "hive/options.hpp"
#include "hive/request.hpp"
#include "hive/response.hpp"

namespace hive::detail {

// What one line says. Every text field may hold anything a client sent: the formatter escapes.
struct access_entry {
  std::time_t time = 0;             // wall clock, seconds (UTC)
  std::string_view client;          // "127.0.0.1"; empty: "-"
  std::string_view method, target;  // empty for a request refused before they were known
  int version_minor = 1;
  int status = 0;
  std::int64_t bytes = -1;          // body bytes sent; -1 not known (a streamed body)
  std::int64_t duration_us = 0;
  std::string_view referer, user_agent, request_id;
};

// Appends one line (with its '\n') to `out`.
void format_access_line(options::access_log_format f, const access_entry& e, std::string& out);

class access_log {
 public:
  static constexpr std::size_t flush_bytes = 64 * 1024;
  static constexpr std::int64_t flush_ms = 100;

  // Opens the file (appending; created 0644) or takes stdout for "-". Throws std::system_error if
  // the file cannot be opened (at start-up: the worker fails to start with that message).
  access_log(asio::io_context& io, options::access_log_format f, std::string path);
  ~access_log();
  access_log(const access_log&) = delete;
  access_log& operator=(const access_log&) = delete;

  void record(const request& req, const response& res, std::int64_t duration_us);
  // Writes what the buffer holds now.
  void flush();
  // Flushes, then opens the path again (logrotate moved the old file away). Keeps the old
  // descriptor if the new open fails.
  void reopen();
  std::uint64_t dropped_lines() const { return dropped_; }

 private:
  void write_out(std::string_view bytes);
  void arm();

  options::access_log_format format_;
  std::string path_;
  int fd_ = -1;
  bool pipe_ = false;
  std::string buf_;
  std::size_t lines_ = 0;      // in buf_
  std::uint64_t dropped_ = 0;
  std::int64_t next_warn_ms_ = 0;
  asio::steady_timer timer_;
  // The timer's handler holds a weak copy: a log destroyed while the io_context runs on (a server
  // torn down inside a live loop) leaves a cancelled handler that must not touch it.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
  bool armed_ = false;
  // The wall-clock second the last line had, and the client text (reused).
  std::string client_;
  address client_addr_;
};

}  // namespace hive::detail

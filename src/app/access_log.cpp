#include "app/access_log.hpp"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <system_error>

#include "app/response_fields.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"

namespace hive::detail {

namespace {

constexpr char hex[] = "0123456789abcdef";

// Inside a quoted CLF field: `"` and `\` escaped, control bytes and bytes past ASCII as \xHH (as
// Apache's mod_log_config does), so a client cannot end the field or the line.
void clf_quoted(std::string& out, std::string_view s) {
  if (s.empty()) {
    out += '-';
    return;
  }
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
}

// A JSON string: the JSON escapes, and every byte past ASCII as \u00HH (the line stays valid
// JSON whatever bytes a client sent, at the cost of showing UTF-8 as its bytes).
void json_string(std::string& out, std::string_view s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

// strftime costs more than the rest of a line: the text is made once per second (per thread).
struct time_text {
  std::time_t sec = -1;
  char b[40] = {};
  std::size_t n = 0;
};

void cached_time(std::string& out, std::time_t t, time_text& c, const char* format) {
  if (c.sec != t) {
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    c.n = std::strftime(c.b, sizeof c.b, format, &tm);
    c.sec = t;
  }
  out.append(c.b, c.n);
}

void clf_time(std::string& out, std::time_t t) {
  thread_local time_text c;
  cached_time(out, t, c, "[%d/%b/%Y:%H:%M:%S +0000]");
}

void iso_time(std::string& out, std::time_t t) {
  thread_local time_text c;
  cached_time(out, t, c, "%Y-%m-%dT%H:%M:%SZ");
}

// Only what the parser let through can reach here, but a log is no place to trust that.
void clf_bare(std::string& out, std::string_view s) {
  if (s.empty()) {
    out += '-';
    return;
  }
  for (unsigned char c : s) {
    if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\') {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
}

}  // namespace

void format_access_line(options::access_log_format f, const access_entry& e, std::string& out) {
  using fmt = options::access_log_format;
  if (f == fmt::json) {
    out += "{\"time\":\"";
    iso_time(out, e.time);
    out += "\",\"client\":";
    json_string(out, e.client);
    out += ",\"method\":";
    json_string(out, e.method);
    out += ",\"target\":";
    json_string(out, e.target);
    out += ",\"status\":";
    out += std::to_string(e.status);
    out += ",\"bytes\":";
    out += e.bytes < 0 ? std::string("null") : std::to_string(e.bytes);
    out += ",\"duration_us\":";
    out += std::to_string(e.duration_us);
    out += ",\"referer\":";
    json_string(out, e.referer);
    out += ",\"user_agent\":";
    json_string(out, e.user_agent);
    out += ",\"request_id\":";
    json_string(out, e.request_id);
    out += "}\n";
    return;
  }
  // host ident authuser [date] "request" status bytes
  clf_bare(out, e.client);
  out += " - - ";
  clf_time(out, e.time);
  out += " \"";
  if (e.method.empty()) {
    out += '-';
  } else {
    clf_quoted(out, e.method);
    out += ' ';
    clf_quoted(out, e.target);
    out += e.version_minor == 0 ? " HTTP/1.0" : " HTTP/1.1";
  }
  out += "\" ";
  out += std::to_string(e.status);
  out += ' ';
  out += e.bytes < 0 ? std::string("-") : std::to_string(e.bytes);
  if (f == fmt::combined) {
    out += " \"";
    clf_quoted(out, e.referer);
    out += "\" \"";
    clf_quoted(out, e.user_agent);
    out += '"';
  }
  out += '\n';
}

access_log::access_log(asio::io_context& io, options::access_log_format f, std::string path)
    : format_(f), path_(std::move(path)), timer_(io) {
  if (path_ == "-") {
    fd_ = STDOUT_FILENO;
  } else {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) {
      throw std::system_error(errno, std::generic_category(),
                              "hive: cannot open the access log " + path_ + "; check --access-log-file");
    }
  }
  struct stat st{};
  pipe_ = ::fstat(fd_, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
  buf_.reserve(flush_bytes + 4096);
}

access_log::~access_log() {
  flush();
  if (fd_ > STDERR_FILENO) ::close(fd_);
}

void access_log::record(const request& req, const response& res, std::int64_t duration_us) {
  access_entry e;
  e.time = ::time(nullptr);
  const address a = req.client_address();
  if (a.port != 0 || a != address{}) {
    // Keep-alive: the same client line after line; its text is made once.
    if (!(a.bytes == client_addr_.bytes) || client_.empty()) {
      client_ = a.ip();
      client_addr_ = a;
    }
    e.client = client_;
  }
  e.method = req.method();
  e.target = req.target();
  e.version_minor = req.version_minor();
  e.status = res.status();
  if (res.kind() == response::body_kind::stream) {
    e.bytes = -1;
  } else {
    e.bytes = req.method() == "HEAD" || res.status() == 204 || res.status() == 304 ? 0 : static_cast<std::int64_t>(res.body_size());
  }
  e.duration_us = duration_us;
  e.referer = req.header("Referer").value_or(std::string_view{});
  e.user_agent = req.header("User-Agent").value_or(std::string_view{});
  e.request_id = response_field(res, "X-Request-Id").value_or(req.header("X-Request-Id").value_or(std::string_view{}));
  format_access_line(format_, e, buf_);
  ++lines_;
  if (buf_.size() >= flush_bytes) {
    flush();
  } else {
    arm();
  }
}

void access_log::arm() {
  if (armed_) return;
  armed_ = true;
  timer_.expires_after(std::chrono::milliseconds(flush_ms));
  timer_.async_wait([this, alive = std::weak_ptr<int>(alive_)](const asio::error_code& ec) {
    if (alive.expired()) return;
    armed_ = false;
    if (!ec) flush();
  });
}

void access_log::flush() {
  if (buf_.empty()) return;
  if (!pipe_) {
    write_out(buf_);
  } else {
    // At most PIPE_BUF at a time, cut after a newline: each write lands whole in the pipe.
    std::string_view rest = buf_;
    while (!rest.empty()) {
      std::size_t n = rest.size();
      if (n > PIPE_BUF) {
        const auto nl = rest.rfind('\n', PIPE_BUF - 1);
        n = nl == std::string_view::npos ? PIPE_BUF : nl + 1;  // a line over PIPE_BUF: cut anyway
      }
      write_out(rest.substr(0, n));
      rest.remove_prefix(n);
    }
  }
  buf_.clear();
  lines_ = 0;
}

void access_log::write_out(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    // Full disk, closed reader, a non-blocking descriptor that is full: the lines are lost, the
    // requests are not.
    const int err = n < 0 ? errno : ENOSPC;
    dropped_ += static_cast<std::uint64_t>(std::count(bytes.begin(), bytes.end(), '\n'));
    const std::int64_t now = monotonic_ms();
    if (now >= next_warn_ms_) {
      next_warn_ms_ = now + 10'000;
      warn("access log ", path_ == "-" ? std::string("(stdout)") : path_, ": write failed (",
           std::strerror(err), "); ", dropped_, " lines dropped so far");
    }
    return;
  }
}

void access_log::reopen() {
  flush();
  if (path_ == "-") return;
  const int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    warn("access log ", path_, ": cannot reopen (", std::strerror(errno), "); still writing to the old file");
    return;
  }
  if (fd_ > STDERR_FILENO) ::close(fd_);
  fd_ = fd;
}

}  // namespace hive::detail

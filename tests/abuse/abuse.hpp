// Helpers for the abuse tests: many raw loopback sockets, a process's RSS and CPU time.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "support/process.hpp"

namespace abuse {

// Under AddressSanitizer freed memory sits in quarantine: RSS says nothing about leaks there
// (LeakSanitizer covers them), so memory bounds are checked in the plain build only.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool rss_meaningful = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool rss_meaningful = false;
#else
inline constexpr bool rss_meaningful = true;
#endif
#else
inline constexpr bool rss_meaningful = true;
#endif

// Raises the soft open-files limit to the hard one: the tests hold hundreds of sockets.
void raise_nofile();

// A non-blocking client socket connected to 127.0.0.1:port (-1 on failure). `rcvbuf` > 0 shrinks
// its receive buffer before connecting.
int open_client(std::uint16_t port, int rcvbuf = 0);
// Sends what the socket takes now; returns the bytes sent (0 if full, -1 if the peer is gone).
long send_some(int fd, std::string_view bytes);
// Reads what is there without waiting: appends to `out`; returns false once the peer closed
// (EOF or reset).
bool read_now(int fd, std::string& out);

// Resident set size of `pid`, bytes (VmRSS).
std::size_t rss_bytes(pid_t pid);
// User + system CPU time `pid` used so far.
std::chrono::milliseconds cpu_time(pid_t pid);

// hello (the example) in a child process on a free port, with extra flags; `nofile` > 0 runs it
// with that open-files limit (soft and hard, so hive cannot raise it). Killed on destruction.
class hello {
 public:
  explicit hello(const std::vector<std::string>& flags, int nofile = 0);
  std::uint16_t port() const { return port_; }
  pid_t pid() const { return proc_->pid(); }
  // What it printed so far.
  const std::string& output() { return proc_->output(); }

 private:
  std::unique_ptr<hive::test::process> proc_;
  std::uint16_t port_ = 0;
};

}  // namespace abuse

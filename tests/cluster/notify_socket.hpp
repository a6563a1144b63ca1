// A stand-in for systemd's notification socket: a bound AF_UNIX datagram socket in a fresh
// temporary directory, whose path goes into the server's NOTIFY_SOCKET.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <doctest/doctest.h>

namespace hive::test {

using namespace std::chrono_literals;

// A bound AF_UNIX datagram socket in a fresh temporary directory.
class notify_socket {
 public:
  notify_socket() {
    char tmpl[] = "/tmp/hive-notify-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    path_ = dir_ + "/notify";
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path_.c_str(), sizeof a.sun_path - 1);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  }
  ~notify_socket() {
    ::close(fd_);
    ::unlink(path_.c_str());
    ::rmdir(dir_.c_str());
  }
  const std::string& path() const { return path_; }
  // The next datagram, or "" after `timeout`.
  std::string next(std::chrono::milliseconds timeout = 10s) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return {};
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  }
  // Datagrams until one containing `what` (skipping WATCHDOG=1 unless that is asked for).
  std::string until(const std::string& what, std::chrono::milliseconds timeout = 10s) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      const std::string d = next(std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now()));
      if (d.empty()) return {};
      seen.push_back(d);
      if (d.find(what) != std::string::npos) return d;
    }
    return {};
  }
  std::vector<std::string> seen;

 private:
  std::string dir_, path_;
  int fd_ = -1;
};

}  // namespace hive::test

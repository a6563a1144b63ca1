#include "ops/sd_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "util/log.hpp"

namespace hive::detail {

sd_notifier sd_notifier::from_environment() {
  sd_notifier n;
  if (const char* s = std::getenv("NOTIFY_SOCKET"); s != nullptr && (s[0] == '/' || s[0] == '@')) {
    n.path_ = s;
  }
  const char* wpid = std::getenv("WATCHDOG_PID");
  const bool ours = wpid == nullptr || std::atol(wpid) == static_cast<long>(::getpid());
  if (const char* w = std::getenv("WATCHDOG_USEC"); w != nullptr && ours) {
    const long long us = std::atoll(w);
    if (us > 0) n.watchdog_ = std::chrono::microseconds(us);
  }
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");
  ::unsetenv("WATCHDOG_PID");
  return n;
}

bool sd_notifier::notify(std::string_view state) {
  if (path_.empty()) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path_.size() >= sizeof addr.sun_path) return false;
  std::memcpy(addr.sun_path, path_.data(), path_.size());
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';  // abstract: no trailing NUL counted
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path_.size());
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const ssize_t n = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                             reinterpret_cast<const sockaddr*>(&addr), len);
  const int err = errno;
  ::close(fd);
  if (n == static_cast<ssize_t>(state.size())) return true;
  if (!warned_) {
    warned_ = true;
    warn("cannot notify the service manager at ", path_, ": ", std::strerror(err));
  }
  return false;
}

std::string monotonic_usec_field() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  const long long us = static_cast<long long>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
  return "MONOTONIC_USEC=" + std::to_string(us);
}

}  // namespace hive::detail

#include "ops/socket_activation.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>

#include "util/log.hpp"

namespace hive::detail {

namespace {

constexpr int first_fd = 3;  // SD_LISTEN_FDS_START

void forget() {
  ::unsetenv("LISTEN_PID");
  ::unsetenv("LISTEN_FDS");
  ::unsetenv("LISTEN_FDNAMES");
}

}  // namespace

activated_socket take_activated_socket() {
  activated_socket out;
  const char* pid = std::getenv("LISTEN_PID");
  const char* fds = std::getenv("LISTEN_FDS");
  if (pid == nullptr || fds == nullptr || std::atol(pid) != static_cast<long>(::getpid())) {
    return out;  // not for us (a parent's, inherited by mistake, is left alone)
  }
  const int n = std::atoi(fds);
  std::string names = std::getenv("LISTEN_FDNAMES") != nullptr ? std::getenv("LISTEN_FDNAMES") : "";
  forget();
  if (n <= 0) return out;
  // The rest are not ours to serve: closed, so they do not leak into the workers.
  for (int fd = first_fd + 1; fd < first_fd + n; ++fd) ::close(fd);
  if (n > 1) warn("socket activation passed ", n, " sockets; serving the first, closed the others");
  out.port = adopt_listening_tcp(first_fd, "hive: socket activation: descriptor 3",
                                 "; use a .socket unit with ListenStream=ADDRESS:PORT");
  out.fd = first_fd;
  out.name = names.substr(0, names.find(':'));
  return out;
}

std::uint16_t adopt_listening_tcp(int fd, const std::string& what, const std::string& hint) {
  int listening = 0, type = 0;
  socklen_t len = sizeof listening;
  if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || listening == 0) {
    throw std::runtime_error(what + " is not a listening socket" + hint);
  }
  len = sizeof type;
  sockaddr_storage addr{};
  socklen_t alen = sizeof addr;
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &alen) != 0 ||
      (addr.ss_family != AF_INET && addr.ss_family != AF_INET6)) {
    throw std::runtime_error(what + " is not a TCP stream socket" + hint);
  }
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  return ntohs(addr.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&addr)->sin_port
                                         : reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
}

}  // namespace hive::detail

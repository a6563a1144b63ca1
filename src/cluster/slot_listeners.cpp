#include "cluster/slot_listeners.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <chrono>
#include <cstdlib>
#include <string>
#include <system_error>
#include <thread>

#include <asio/ip/tcp.hpp>

#include "net/listener.hpp"
#include "ops/socket_activation.hpp"
#include "util/log.hpp"

namespace hive::detail {

namespace {

// Binds host:port without SO_REUSEPORT and without listening, then lets it go. Returns the port
// (the chosen one when `port` is 0).
std::uint16_t check_address_free(asio::io_context& io, const options& opts) {
  const auto probe = bind_address(io, opts.host, opts.port, /*reuse_port=*/false);
  return probe.local_endpoint().port();
}

// The check above and the binds after it are one step for every hive on this machine (its
// network namespace): two instances started at the same moment could otherwise both find the
// address free, then both bind SO_REUSEPORT listeners and share the port. The lock is an abstract
// Unix socket named after the port (any host: a wildcard and a specific address on one port
// conflict too), bound for the probe-and-bind step only — once our listeners are bound, the next
// instance's probe fails on them. The kernel frees it with the process, however that ends.
class port_lock {
 public:
  explicit port_lock(std::uint16_t port) {
    if (port == 0) return;  // a port the kernel picks is nobody else's to race for
    const std::string name = "hive-bind-port:" + std::to_string(port);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    name.copy(addr.sun_path + 1, sizeof addr.sun_path - 2);  // sun_path[0] = '\0': abstract
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return;  // no lock to be had: the probe alone, as before
    // Another instance holds it for the microseconds of its own probe and binds; one stuck there
    // (stopped by a debugger) gets a clear message rather than a silent shared port.
    for (int i = 0; i < 500; ++i) {
      if (::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), len) == 0) return;
      if (errno != EADDRINUSE) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::close(fd_);
    throw std::system_error(EADDRINUSE, std::system_category(),
                            "hive: another program is binding port " + std::to_string(port) +
                                " right now (it holds @" + name + "); try again, or choose another with --port");
  }
  ~port_lock() {
    if (fd_ >= 0) ::close(fd_);
  }
  port_lock(const port_lock&) = delete;
  port_lock& operator=(const port_lock&) = delete;

 private:
  int fd_ = -1;
};

// For tests that reproduce the start-up race: a pause between the check and the binds.
void debug_bind_delay() {
  if (const char* ms = std::getenv("HIVE_DEBUG_BIND_DELAY_MS")) {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::atoi(ms)));
  }
}

}  // namespace

slot_listeners bind_slot_listeners(asio::io_context& io, const options& opts, int slots) {
  slot_listeners out;
  const port_lock lock(opts.port);
  out.port = check_address_free(io, opts);
  debug_bind_delay();
  try {
    for (int k = 0; k < slots; ++k) {
      auto acc = bind_listener(io, opts.host, out.port, /*reuse_port=*/true);
      out.fds.push_back(acc.release());
    }
  } catch (...) {
    for (int fd : out.fds) ::close(fd);
    throw;
  }
  return out;
}

slot_listeners share_activated_socket(const activated_socket& s, int slots) {
  slot_listeners out;
  out.port = s.port;
  out.fds.push_back(s.fd);
  for (int k = 1; k < slots; ++k) {
    const int fd = ::fcntl(s.fd, F_DUPFD_CLOEXEC, 3);
    if (fd < 0) {
      const int err = errno;
      for (int f : out.fds) ::close(f);
      throw std::system_error(err, std::system_category(), "hive: cannot share the socket-activated listener");
    }
    out.fds.push_back(fd);
  }
  log("adopted the socket-activated listener", s.name.empty() ? "" : " '", s.name,
      s.name.empty() ? "" : "'", " on port ", s.port, " for ", slots, " workers (one shared accept queue)");
  return out;
}

slot_listeners adopt_inherited_listeners(asio::io_context& io, const options& opts,
                                         const std::vector<int>& fds, int slots) {
  slot_listeners out;
  out.port = adopt_listening_tcp(fds.front(), "hive: upgrade: inherited descriptor", "");
  const auto n = static_cast<std::size_t>(slots);
  for (std::size_t k = n; k < fds.size(); ++k) ::close(fds[k]);
  if (fds.size() > n) {
    warn("the previous primary served ", fds.size(), " slots, this one runs ", slots,
         ": closed the other listeners (connections still queued on them are reset once the old "
         "workers drain)");
  }
  out.fds.assign(fds.begin(), fds.begin() + static_cast<std::ptrdiff_t>(std::min(n, fds.size())));
  int reuse = 0;
  socklen_t len = sizeof reuse;
  ::getsockopt(fds.front(), SOL_SOCKET, SO_REUSEPORT, &reuse, &len);
  try {
    while (out.fds.size() < n) {
      if (reuse != 0) {
        out.fds.push_back(bind_listener(io, opts.host, out.port, /*reuse_port=*/true).release());
        continue;
      }
      const int fd = ::fcntl(fds.front(), F_DUPFD_CLOEXEC, 3);
      if (fd < 0) throw std::system_error(errno, std::system_category(), "hive: cannot share the inherited listener");
      out.fds.push_back(fd);
    }
  } catch (...) {
    for (int fd : out.fds) ::close(fd);
    throw;
  }
  log("adopted ", std::min(n, fds.size()), " listeners on port ", out.port, " from the previous primary ",
      ::getppid(), " for ", slots, " workers");
  return out;
}

}  // namespace hive::detail

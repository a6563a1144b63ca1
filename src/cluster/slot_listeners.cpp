#include "cluster/slot_listeners.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

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

}  // namespace

slot_listeners bind_slot_listeners(asio::io_context& io, const options& opts, int slots) {
  slot_listeners out;
  out.port = check_address_free(io, opts);
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

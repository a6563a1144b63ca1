#include "net/listener.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <cerrno>
#include <cstring>
#include <chrono>
#include <string>
#include <system_error>

#include "net/server_core.hpp"
#include "util/log.hpp"

namespace hive::detail {

namespace {
// Enough to drain a burst without starving the connections already open.
constexpr int accept_batch_max = 64;
constexpr auto emfile_backoff = std::chrono::milliseconds(100);

// The 16-byte form (IPv4 mapped) and port of an accepted peer.
address peer_of(const sockaddr_storage& ss) {
  address a;
  if (ss.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(ss);
    a.bytes[10] = a.bytes[11] = 0xff;
    std::memcpy(&a.bytes[12], &in.sin_addr, 4);
    a.port = ntohs(in.sin_port);
  } else if (ss.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(ss);
    std::memcpy(a.bytes.data(), &in6.sin6_addr, 16);
    a.port = ntohs(in6.sin6_port);
  }
  return a;
}
}  // namespace

// The socket leaves Asio's reactor (release): readiness comes from hive's poller alone, so a
// connection arriving does not also wake Asio's set.
listener::listener(server_core& srv, asio::ip::tcp::acceptor acceptor)
    : srv_(srv), fd_(acceptor.release()), backoff_(srv.io()) {}

// Out of the poller's set as in stop(): the socket may be shared with other processes.
listener::~listener() { stop(); }

std::uint16_t listener::port() const {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(ss).sin6_port);
  return ntohs(reinterpret_cast<const sockaddr_in&>(ss).sin_port);
}

void listener::start() {
  if (stopped_) return;
  // accept4 until EAGAIN: it must never block.
  const int flags = ::fcntl(fd_, F_GETFL);
  if (flags < 0 || ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK) != 0) {
    throw std::system_error(errno, std::system_category(), "hive: cannot make the listening socket non-blocking");
  }
  if (!srv_.poll().add_listener(fd_, this)) {
    throw std::system_error(errno, std::system_category(), "hive: cannot watch the listening socket");
  }
  accept_batch();  // connections may be queued already (a worker taking over a slot)
}

void listener::on_events(std::uint32_t) {
  if (!stopped_ && !paused_) accept_batch();
}

void listener::accept_batch() {
  paused_ = false;
  const int lfd = fd_;
  for (int i = 0; i < accept_batch_max; ++i) {
    sockaddr_storage ss;
    socklen_t len = sizeof ss;
    const int fd = ::accept4(lfd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      if (starved_) {
        starved_ = false;
        log("accepting again (", starved_retries_, " tries were out of descriptors)");
      }
      srv_.adopt(fd, peer_of(ss));
      if (stopped_) return;
      continue;
    }
    switch (errno) {
      case EAGAIN:
        return;  // the next edge brings more
      case EINTR:
      case ECONNABORTED:
      case EPROTO:
      case EPERM:
      // accept(2): network errors of that one connection, to be retried like EAGAIN.
      case ENETDOWN:
      case ENOPROTOOPT:
      case EHOSTDOWN:
      case ENONET:
      case EHOSTUNREACH:
      case EOPNOTSUPP:
      case ENETUNREACH:
        continue;  // that one connection failed; the next may not
      case EMFILE:
      case ENFILE:
      case ENOBUFS:
      case ENOMEM:
        pause();
        return;
      default:
        // Unknown: the queue is edge-triggered, so waiting for the next edge could strand the
        // connections already queued. Back off and try again.
        pause();
        return;
    }
  }
  // A full batch: let other work run, then carry on without waiting for readiness.
  asio::post(srv_.io(), [this, alive = std::weak_ptr<int>(alive_)] {
    if (!alive.expired() && !stopped_) accept_batch();
  });
}

// Out of descriptors or memory: the socket stays readable, so waiting for readiness again would
// spin. The connections waiting in the backlog stay there until a descriptor is free.
void listener::pause() {
  if (!starved_) {
    starved_ = true;
    starved_retries_ = 0;
    const bool fds = errno == EMFILE || errno == ENFILE;
    const bool memory = errno == ENOBUFS || errno == ENOMEM;
    warn("accept: ", std::system_category().message(errno), "; pausing accepts until a connection closes",
         fds      ? " (raise the open-files limit: ulimit -n, LimitNOFILE= under systemd)"
         : memory ? " (the machine is short of memory)"
                  : "");
  }
  ++starved_retries_;
  paused_ = true;
  backoff_.expires_after(emfile_backoff);
  // The token, not only `ec`: a completion already queued when the server is destroyed still runs.
  backoff_.async_wait([this, alive = std::weak_ptr<int>(alive_)](const asio::error_code& ec) {
    if (!ec && !alive.expired() && !stopped_ && paused_) accept_batch();
  });
}

void listener::on_descriptor_freed() {
  if (!paused_ || stopped_) return;
  // Posted: the caller is a connection closing, deep in its own call stack. Clearing `paused_`
  // now makes this the only resumption, whatever else closes or the timer does meanwhile.
  paused_ = false;
  backoff_.cancel();
  asio::post(srv_.io(), [this, alive = std::weak_ptr<int>(alive_)] {
    if (!alive.expired() && !stopped_) accept_batch();
  });
}

void listener::stop() {
  if (stopped_) return;
  stopped_ = true;
  backoff_.cancel();
  // Explicitly: the primary holds the same socket, so closing ours would not leave the set.
  srv_.poll().remove(fd_);
  ::close(fd_);
  fd_ = -1;
}

void tune_listener(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  // Seconds the kernel holds a connection with no data before waking us anyway.
  int defer_s = 10;
  ::setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer_s, sizeof defer_s);
}

asio::ip::tcp::acceptor bind_address(asio::io_context& io, const std::string& host,
                                     std::uint16_t port, bool reuse_port) {
  const std::string where = host + ":" + std::to_string(port);
  asio::error_code ec;
  const auto addr = asio::ip::make_address(host, ec);
  if (ec) {
    throw std::system_error(ec, "hive: '" + host +
                                    "' is not an IP address; pass --host with an IPv4 or IPv6 address");
  }
  const asio::ip::tcp::endpoint ep(addr, port);
  asio::ip::tcp::acceptor acc(io);
  acc.open(ep.protocol(), ec);
  if (ec) throw std::system_error(ec, "hive: cannot open a socket for " + where);
  // Asio opens without SOCK_CLOEXEC: a program a handler runs must not inherit the port.
  ::fcntl(acc.native_handle(), F_SETFD, FD_CLOEXEC);
  acc.set_option(asio::socket_base::reuse_address(true), ec);
  if (reuse_port) {
    int one = 1;
    if (::setsockopt(acc.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
      throw std::system_error(errno, std::system_category(), "hive: SO_REUSEPORT on " + where);
    }
  }
  acc.bind(ep, ec);
  if (ec == asio::error::address_in_use) {
    throw std::system_error(ec, "hive: port " + std::to_string(port) + " on " + host +
                                    " is in use (another server listens there; hive will not share "
                                    "it); stop that server or choose another with --port");
  }
  if (ec == asio::error::access_denied) {
    throw std::system_error(ec, "hive: may not bind " + where +
                                    " (ports below 1024 need privileges); choose another with --port");
  }
  if (ec) throw std::system_error(ec, "hive: cannot bind " + where);
  return acc;
}

asio::ip::tcp::acceptor bind_listener(asio::io_context& io, const std::string& host,
                                      std::uint16_t port, bool reuse_port, int backlog) {
  auto acc = bind_address(io, host, port, reuse_port);
  asio::error_code ec;
  acc.listen(backlog, ec);
  if (ec) throw std::system_error(ec, "hive: cannot listen on " + host + ":" + std::to_string(port));
  tune_listener(acc.native_handle());
  return acc;
}

}  // namespace hive::detail

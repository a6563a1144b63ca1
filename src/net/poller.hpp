// The worker's readiness set for connections: one epoll instance of our own, itself a single
// descriptor in Asio's loop. Each connection is added once, edge-triggered, and never modified
// again; Asio re-arms only this one descriptor, once per batch of events. Waiting on each socket
// through Asio instead costs an epoll_ctl per request (Asio re-arms on every async_wait), which is
// a third of the syscalls of a keep-alive request.
#pragma once

#include <cstdint>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>

namespace hive::detail {

class poll_target {
 public:
  // `events` is the epoll mask: EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLHUP, EPOLLERR.
  virtual void on_events(std::uint32_t events) = 0;

 protected:
  ~poll_target() = default;
};

class poller {
 public:
  explicit poller(asio::io_context& io);
  ~poller();
  poller(const poller&) = delete;
  poller& operator=(const poller&) = delete;

  // Watches `fd` for input and output edges until it is closed. False if epoll refused it.
  bool add(int fd, poll_target* target);
  // True while events of one batch are being delivered: a target must not be freed then, as a
  // later event of the same batch may name it.
  bool dispatching() const { return dispatching_; }
  void stop();

 private:
  void arm();
  void dispatch();

  asio::posix::stream_descriptor epoll_;
  bool dispatching_ = false;
  bool stopped_ = false;
};

}  // namespace hive::detail

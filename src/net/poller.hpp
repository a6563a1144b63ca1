// The worker's readiness set for connections: one epoll instance of our own, itself a single
// descriptor in Asio's loop. Each connection is added once, edge-triggered, and never modified
// again; Asio re-arms only this one descriptor, once per batch of events. Waiting on each socket
// through Asio instead costs an epoll_ctl per request (Asio re-arms on every async_wait), which is
// a third of the syscalls of a keep-alive request.
#pragma once

#include <cstdint>
#include <memory>
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
  void stop();

 private:
  void arm();
  void dispatch();

  asio::posix::stream_descriptor epoll_;
  bool stopped_ = false;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // posted work checks it still exists
};

}  // namespace hive::detail

// The worker's readiness set for hive's own sockets: one epoll instance, each socket added once,
// edge-triggered, and never modified again — no epoll_ctl per request, and no read tried before
// epoll says there is something to read.
//
// Two ways to wait in it:
// - run(): hive owns the thread (hive::serve, a cluster worker). One epoll_wait serves
//   everything: Asio's own epoll set is a member of this one, so timers, signals and users' Asio
//   sockets wake the same wait and are run with io.poll(). A keep-alive request costs one
//   epoll_wait, one recv and one send, as in nginx.
// - nested (the default, and the fallback where Asio's internals are not the checked ones): this
//   set is one descriptor in Asio's loop, for a program that runs its own io_context (embedding).
//   Each wake-up then costs Asio's epoll_wait and re-arm plus ours: two syscalls more, shared by
//   every connection ready at once.
// (Asio's per-socket async_read_some costs a read that finds nothing after every response, and
// per-socket state an idle connection would carry: measured in the seams note.)
#pragma once

#include <cstdint>
#include <memory>

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

  // Watches `fd` for input and output edges until remove(fd). False if epoll refused it.
  bool add(int fd, poll_target* target);
  // Input only (a listening socket). Removed explicitly: a listener shared with other processes
  // stays in the set after this process closes its copy.
  bool add_listener(int fd, poll_target* target);
  void remove(int fd);
  // Run before and after every batch of events, outside every target's call stack: the
  // worker's clock is read once per wake-up, and closed connections are freed without a round
  // trip through Asio's queue.
  void batch_hooks(void (*before)(void*), void (*after)(void*), void* ctx) {
    before_ = before;
    after_ = after;
    hooks_ctx_ = ctx;
  }

  // Waits in this set for everything, running Asio's work with io.poll(), until the io_context
  // is stopped. Falls back to io.run() (nested) where Asio's internals are not the checked ones.
  void run();
  void stop();
  // Inside a batch of events: the after_batch hook will run when it ends.
  bool dispatching() const { return dispatching_; }

 private:
  void arm();
  void nested_turn();
  int dispatch(int timeout_ms, bool* asio_ready);

  asio::io_context& io_;
  int epoll_fd_;
  asio::posix::stream_descriptor nested_;  // our set inside Asio's, until run() takes over
  bool owned_ = false;
  bool stopped_ = false;
  bool dispatching_ = false;
  void (*before_)(void*) = nullptr;
  void (*after_)(void*) = nullptr;
  void* hooks_ctx_ = nullptr;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // posted work checks it still exists
};

}  // namespace hive::detail

#include "net/poller.hpp"

#include <sys/epoll.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>

#include <asio/post.hpp>

#include "net/asio_hooks.hpp"
#include "util/log.hpp"

namespace hive::detail {

namespace {
constexpr int batch_max = 256;
// Asio handlers run per turn of the owned loop before the sockets are looked at again.
constexpr int asio_turn_max = 64;

int make_epoll() {
  const int fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::system_category(), "hive: epoll_create1");
  return fd;
}
}  // namespace

poller::poller(asio::io_context& io) : io_(io), epoll_fd_(make_epoll()), nested_(io, ::fcntl(epoll_fd_, F_DUPFD_CLOEXEC, 0)) {
  // Asio gets its own descriptor for the set (a dup): it may close it when run() takes over.
  arm();
}

poller::~poller() {
  stop();
  ::close(epoll_fd_);
}

void poller::stop() {
  if (stopped_) return;
  stopped_ = true;
  asio::error_code ec;
  nested_.close(ec);
}

bool poller::add(int fd, poll_target* target) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = target;
  return ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) == 0;
}

bool poller::add_listener(int fd, poll_target* target) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLET;
  ev.data.ptr = target;
  return ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) == 0;
}

void poller::remove(int fd) { ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr); }

void poller::arm() {
  if (stopped_ || owned_) return;
  nested_.async_wait(asio::posix::stream_descriptor::wait_read,
                     [this, alive = std::weak_ptr<int>(alive_)](const asio::error_code& ec) {
    if (ec || alive.expired() || stopped_ || owned_) return;
    nested_turn();
  });
}

void poller::nested_turn() {
  if (dispatch(0, nullptr) < batch_max) {
    arm();
    return;
  }
  // A full batch: more may be ready, and their edges will not come again. Let other work run,
  // then carry on without waiting.
  asio::post(io_, [this, alive = std::weak_ptr<int>(alive_)] {
    if (!alive.expired() && !stopped_ && !owned_) nested_turn();
  });
}

// `asio_ready` null: nested, where Asio's descriptor is not in the set.
int poller::dispatch(int timeout_ms, bool* asio_ready) {
  epoll_event events[batch_max];
  const int n = ::epoll_wait(epoll_fd_, events, batch_max, timeout_ms);
  if (n > 0 && before_ != nullptr) before_(hooks_ctx_);
  dispatching_ = true;
  for (int i = 0; i < n; ++i) {
    if (events[i].data.ptr == nullptr) {
      *asio_ready = true;
      continue;
    }
    static_cast<poll_target*>(events[i].data.ptr)->on_events(events[i].events);
  }
  dispatching_ = false;
  if (after_ != nullptr) after_(hooks_ctx_);
  return n;
}

void poller::run() {
  const int asio_fd = asio_hooks::available() ? asio_hooks::reactor_descriptor(io_) : -1;
  // Our set leaves Asio's before Asio's joins ours: epoll refuses a loop.
  asio::error_code ec;
  nested_.close(ec);
  owned_ = true;
  epoll_event ev{};
  ev.events = EPOLLIN;  // level-triggered: ready for as long as Asio has events to collect
  ev.data.ptr = nullptr;
  if (asio_fd < 0 || ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, asio_fd, &ev) != 0) {
    // Nested after all: Asio waits, and wakes this set through its descriptor.
    owned_ = false;
    nested_.assign(::fcntl(epoll_fd_, F_DUPFD_CLOEXEC, 0), ec);
    arm();
    io_.run();
    return;
  }
  bool asio_ready = true;  // work queued before the loop started
  while (!io_.stopped()) {
    bool more = false;
    if (asio_ready) {
      asio_ready = false;
      // A bounded turn: a handler that keeps posting itself (long work done in slices) must not
      // starve the connections. What is left runs after the next look at the sockets.
      int ran = 0;
      while (ran < asio_turn_max && io_.poll_one() != 0) ++ran;
      if (io_.stopped()) break;
      more = ran == asio_turn_max;
      if (!more) asio_hooks::expect_interrupts(io_);
    }
    dispatch(more ? 0 : -1, &asio_ready);
    asio_ready = asio_ready || more;
  }
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, asio_fd, nullptr);
}

}  // namespace hive::detail

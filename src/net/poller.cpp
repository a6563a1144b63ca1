#include "net/poller.hpp"

#include <sys/epoll.h>

#include <cerrno>
#include <system_error>

#include <asio/post.hpp>

namespace hive::detail {

namespace {
constexpr int batch_max = 256;

int make_epoll() {
  const int fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::system_category(), "hive: epoll_create1");
  return fd;
}
}  // namespace

poller::poller(asio::io_context& io) : epoll_(io, make_epoll()) { arm(); }

poller::~poller() { stop(); }

void poller::stop() {
  if (stopped_) return;
  stopped_ = true;
  asio::error_code ec;
  epoll_.close(ec);
}

bool poller::add(int fd, poll_target* target) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = target;
  return ::epoll_ctl(epoll_.native_handle(), EPOLL_CTL_ADD, fd, &ev) == 0;
}

void poller::arm() {
  if (stopped_) return;
  epoll_.async_wait(asio::posix::stream_descriptor::wait_read,
                    [this, alive = std::weak_ptr<int>(alive_)](const asio::error_code& ec) {
    if (ec || alive.expired() || stopped_) return;
    dispatch();
  });
}

void poller::dispatch() {
  epoll_event events[batch_max];
  const int n = ::epoll_wait(epoll_.native_handle(), events, batch_max, 0);
  for (int i = 0; i < n; ++i) {
    static_cast<poll_target*>(events[i].data.ptr)->on_events(events[i].events);
  }
  if (n == batch_max) {
    // More may be ready: let timers and other work run first, then carry on without waiting.
    asio::post(epoll_.get_executor(), [this, alive = std::weak_ptr<int>(alive_)] {
      if (!alive.expired() && !stopped_) dispatch();
    });
    return;
  }
  arm();
}

}  // namespace hive::detail

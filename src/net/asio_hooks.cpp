#include "net/asio_hooks.hpp"

#include <asio/io_context.hpp>
#include <asio/version.hpp>

// Checked against Debian 12's Asio 1.22.1 (epoll reactor, scheduler).
// Asio's timers must live in a timerfd inside its epoll set: hive's wait applies no timeout of
// Asio's.
#if ASIO_VERSION == 102201 && defined(ASIO_HAS_EPOLL) && defined(ASIO_HAS_TIMERFD) && \
    !defined(ASIO_HAS_IO_URING_AS_DEFAULT)
#define HIVE_ASIO_HOOKS 1
#include <asio/detail/epoll_reactor.hpp>
#include <asio/detail/scheduler.hpp>
#endif

namespace hive::detail::asio_hooks {

#ifdef HIVE_ASIO_HOOKS
namespace {

// Access checks do not apply to the names in an explicit instantiation (C++20 [temp.spec]/6):
// the instantiation below hands out pointers to two private members through a friend function.
template <class Tag, typename Tag::type Member>
struct expose {
  friend typename Tag::type member_of(Tag) { return Member; }
};

struct epoll_fd {
  using type = int asio::detail::epoll_reactor::*;
  friend type member_of(epoll_fd);
};
template struct expose<epoll_fd, &asio::detail::epoll_reactor::epoll_fd_>;

struct task_interrupted {
  using type = bool asio::detail::scheduler::*;
  friend type member_of(task_interrupted);
};
template struct expose<task_interrupted, &asio::detail::scheduler::task_interrupted_>;

}  // namespace

bool available() { return true; }

int reactor_descriptor(asio::io_context& io) {
  auto& reactor = asio::use_service<asio::detail::epoll_reactor>(io);
  return reactor.*member_of(epoll_fd{});
}

void expect_interrupts(asio::io_context& io) {
  auto& scheduler = asio::use_service<asio::detail::scheduler>(io);
  scheduler.*member_of(task_interrupted{}) = false;
}

#else

bool available() { return false; }
int reactor_descriptor(asio::io_context&) { return -1; }
void expect_interrupts(asio::io_context&) {}

#endif

}  // namespace hive::detail::asio_hooks

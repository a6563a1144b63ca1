#include "net/connection.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include <asio/post.hpp>

#include "net/server_core.hpp"

namespace hive::detail {

namespace {
// After a rejection the client may still be sending; reading it for a while lets the error
// response arrive instead of being destroyed by a reset (RFC 9112 §9.6).
constexpr std::int64_t linger_ms = 2000;
// How long an idle keep-alive connection may still bring a request once the worker drains.
constexpr std::int64_t drain_grace_ms = 1000;
}  // namespace

connection::connection(server_core& srv, int fd)
    : srv_(srv), fd_(fd), session_(srv.routes(), srv.config(), srv.pool()) {
  session_.set_wake(&connection::wake, this);
  if (srv.draining()) session_.drain();
}

connection::~connection() {
  if (!closed_) ::close(fd_);
}

// A deferred response was finished (or abandoned) from user code: write it, and handle what is
// pipelined behind it, from the loop rather than from inside the user's call.
void connection::wake(void* self) {
  auto* c = static_cast<connection*>(self);
  if (c->wake_posted_) return;
  c->wake_posted_ = true;
  asio::post(c->srv_.io(), [c, alive = c->srv_.alive()] {
    if (alive.expired()) return;  // the server, and with it `c`, is gone
    c->wake_posted_ = false;  // server_core keeps a closed connection alive while this is set
    c->run();
  });
}

void connection::on_events(std::uint32_t events) {
  if (closed_) return;
  if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) readable_ = true;
  if ((events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0) writable_ = true;
  if ((events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) hup_ = true;
  // Both directions gone (reset, or closed after our FIN): nobody will read a deferred answer,
  // so release the connection now rather than when the handler finishes.
  if ((events & (EPOLLHUP | EPOLLERR)) != 0 && session_.current_phase() == session::phase::handling) {
    close_now();
    return;
  }
  run();
}

void connection::run() {
  if (in_run_) return;  // a deferred response finished from inside this run: the loop sees it
  in_run_ = true;
  for (;;) {
    if (closed_) break;
    if (const auto out = session_.output(); !out.empty()) {
      if (!writable_) {
        wait_for(wait::write);
        break;
      }
      const ssize_t n = ::send(fd_, out.data(), out.size(), MSG_NOSIGNAL);
      if (n > 0) {
        if (static_cast<std::size_t>(n) < out.size()) writable_ = false;
        if (waiting_ == wait::write) waiting_ = wait::none;  // progress: a fresh write deadline
        session_.consume(static_cast<std::size_t>(n));  // may handle held-back requests
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) {
        writable_ = false;
        continue;
      }
      close_now();  // EPIPE, ECONNRESET: the client is gone
      break;
    }
    if (lingering_) {
      linger_read();
      break;
    }
    if (session_.done()) {
      // Unread input (pipelined past a close, or not yet read) would turn close() into a reset
      // that can destroy the answer in flight: half-close and drain first (RFC 9112 §9.6).
      if (session_.linger() || session_.unread_input() || readable_) {
        ::shutdown(fd_, SHUT_WR);
        lingering_ = true;
        continue;
      }
      close_now();
      break;
    }
    if (!session_.wants_read()) {
      wait_for(wait::none);  // a deferred response holds the pipeline; wake() resumes
      break;
    }
    if (!readable_) {
      wait_for(wait::read);
      break;
    }
    if (!read_some()) break;
  }
  in_run_ = false;
}

bool connection::read_some() {
  const auto in = session_.prepare();
  const ssize_t n = ::recv(fd_, in.data(), in.size(), 0);
  if (n > 0) {
    // A short read emptied the socket: the next edge says when there is more.
    if (static_cast<std::size_t>(n) < in.size() && !hup_) readable_ = false;
    session_.commit(static_cast<std::size_t>(n));
    return true;
  }
  if (n == 0) {
    readable_ = false;
    session_.on_eof();
    return true;
  }
  if (errno == EINTR) return true;
  if (errno == EAGAIN) {
    readable_ = false;
    session_.release_if_idle();
    return true;
  }
  close_now();
  return false;
}

void connection::linger_read() {
  char sink[4096];
  while (readable_) {
    const ssize_t n = ::recv(fd_, sink, sizeof sink, 0);
    if (n > 0) continue;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      readable_ = false;
      break;
    }
    close_now();  // EOF or error: the client has everything it will read
    return;
  }
  wait_for(wait::linger);
}

void connection::wait_for(wait w) {
  if (w == wait::none) {
    // Waiting on nothing (a deferred response holds the pipeline): no deadline applies, least of
    // all one left over from an earlier write.
    waiting_ = w;
    deadline_ms_ = 0;
    return;
  }
  if (!registered_) {
    if (!srv_.poll().add(fd_, this)) {
      close_now();
      return;
    }
    registered_ = true;
  }
  const auto& o = srv_.opts();
  const std::int64_t now = srv_.now_ms() + srv_.tick_ms();  // never early: `now` lags a tick
  if (w == wait::read) {
    const auto phase = session_.current_phase();
    const auto message = session_.messages_begun();
    if (waiting_ == wait::read && phase == deadline_phase_ && message == deadline_message_) return;
    deadline_phase_ = phase;
    deadline_message_ = message;
    switch (phase) {
      case session::phase::idle:
        // Draining: an idle connection gets the short grace, not a whole idle timeout.
        deadline_ms_ = now + (session_.draining() ? std::min<std::int64_t>(drain_grace_ms, o.idle_timeout.count())
                                                  : o.idle_timeout.count());
        break;
      case session::phase::head: deadline_ms_ = now + o.header_timeout.count(); break;
      case session::phase::body: deadline_ms_ = now + o.body_timeout.count(); break;
      default: deadline_ms_ = 0; break;
    }
  } else if (w != waiting_) {
    deadline_phase_ = session::phase::closing;
    deadline_ms_ = w == wait::write ? now + o.write_timeout.count() : now + linger_ms;
  }
  waiting_ = w;
}

void connection::check_deadline(std::int64_t now_ms) {
  if (closed_ || deadline_ms_ == 0 || now_ms < deadline_ms_) return;
  deadline_ms_ = 0;
  if (waiting_ != wait::read) {
    close_now();  // a client that does not read, or a lingering close that ran its course
    return;
  }
  waiting_ = wait::none;
  session_.timeout();  // 408 for a half-sent request; nothing for an idle one
  run();
}

void connection::drain() {
  session_.drain();
  // An idle keep-alive client may be sending its next request right now: closing at once would
  // lose it. Give it a short grace — a request that arrives is answered with `Connection: close`
  // — then close at the deadline as for any idle connection.
  if (waiting_ == wait::read && session_.current_phase() == session::phase::idle) {
    const std::int64_t grace = srv_.now_ms() + srv_.tick_ms() + drain_grace_ms;
    if (deadline_ms_ == 0 || deadline_ms_ > grace) deadline_ms_ = grace;
  }
}

void connection::close_now() {
  if (closed_) return;
  closed_ = true;
  ::close(fd_);  // also leaves the poller's set
  srv_.remove(this);
}

}  // namespace hive::detail

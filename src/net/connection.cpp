#include "net/connection.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "net/counters.hpp"
#include "net/server_core.hpp"

namespace hive::detail {

namespace {
// After a rejection the client may still be sending; reading it for a while lets the error
// response arrive instead of being destroyed by a reset.
constexpr std::int64_t linger_ms = 2000;
}  // namespace

connection::connection(server_core& srv, int fd, const asio::ip::tcp& protocol)
    : srv_(srv),
      fd_(fd),
      protocol_(protocol),
      sock_(srv.io()),
      session_(srv.routes(), srv.config(), srv.pool()) {
  session_.set_wake(&connection::wake, this);
  if (srv.draining()) session_.drain();
}

connection::~connection() {
  if (!closed_) {
    if (registered_) {
      asio::error_code ec;
      sock_.close(ec);
    } else {
      ::close(fd_);
    }
  }
}

void connection::start() { on_readable(); }

void connection::wake(void* self) {
  auto* c = static_cast<connection*>(self);
  if (c->in_pump_ || c->waiting_ != wait::none) return;  // the running pump or wait picks it up
  c->pump();
}

void connection::on_readable() {
  for (;;) {
    auto in = session_.prepare();
    const ssize_t n = ::recv(fd_, in.data(), in.size(), 0);
    if (n > 0) {
      session_.commit(static_cast<std::size_t>(n));
      // A short read drained the socket: do not pay for a recv that would say EAGAIN.
      if (static_cast<std::size_t>(n) < in.size() || !session_.wants_read()) break;
      continue;
    }
    if (n == 0) {
      session_.on_eof();
      break;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) {
      session_.release_if_idle();
      break;
    }
    close_now();
    return;
  }
  pump();
}

void connection::pump() {
  in_pump_ = true;
  for (;;) {
    const auto out = session_.output();
    if (!out.empty()) {
      const ssize_t n = ::send(fd_, out.data(), out.size(), MSG_NOSIGNAL);
      if (n > 0) {
        session_.consume(static_cast<std::size_t>(n));  // may handle held-back requests
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      in_pump_ = false;
      if (n < 0 && errno == EAGAIN) {
        await(wait::write);
      } else {
        close_now();  // EPIPE, ECONNRESET: the client is gone
      }
      return;
    }
    in_pump_ = false;
    if (session_.done()) {
      if (session_.linger()) {
        start_linger();
      } else {
        close_now();
      }
    } else if (session_.wants_read()) {
      await(wait::read);
    } else {
      // A deferred response holds the pipeline; wake() resumes when it is finished.
      waiting_ = wait::none;
      deadline_ms_ = 0;
    }
    return;
  }
}

void connection::await(wait w) {
  if (!registered_) {
    asio::error_code ec;
    sock_.assign(protocol_, fd_, ec);
    if (ec) {
      close_now();
      return;
    }
    registered_ = true;
  }
  const bool same = waiting_ == w;
  waiting_ = w;
  set_deadline();
  if (same && pending_ops_ > 0) return;
  ++pending_ops_;
  const auto type = w == wait::write ? asio::socket_base::wait_write : asio::socket_base::wait_read;
  sock_.async_wait(type, [this](const asio::error_code& ec) {
    --pending_ops_;
    if (closed_) {
      if (pending_ops_ == 0) srv_.remove(this);
      return;
    }
    if (ec == asio::error::operation_aborted) return;  // cancelled by a deadline; it moved on
    const wait was = waiting_;
    waiting_ = wait::none;
    if (ec) {
      close_now();
      return;
    }
    switch (was) {
      case wait::read: on_readable(); break;
      case wait::write: pump(); break;
      case wait::linger: on_linger_readable(); break;
      case wait::none: break;
    }
  });
}

void connection::set_deadline() {
  const auto& o = srv_.opts();
  const std::int64_t now = srv_.now_ms() + srv_.tick_ms();  // never early: `now` lags a tick
  switch (waiting_) {
    case wait::write:
      deadline_ms_ = now + o.write_timeout.count();
      deadline_phase_ = session::phase::closing;
      return;
    case wait::linger:
      deadline_ms_ = now + linger_ms;
      return;
    case wait::none:
      deadline_ms_ = 0;
      return;
    case wait::read: break;
  }
  const auto phase = session_.current_phase();
  const auto message = session_.messages_begun();
  if (phase == deadline_phase_ && message == deadline_message_ && deadline_ms_ != 0) return;
  deadline_phase_ = phase;
  deadline_message_ = message;
  switch (phase) {
    case session::phase::idle: deadline_ms_ = now + o.idle_timeout.count(); break;
    case session::phase::head: deadline_ms_ = now + o.header_timeout.count(); break;
    case session::phase::body: deadline_ms_ = now + o.body_timeout.count(); break;
    default: deadline_ms_ = 0; break;
  }
}

void connection::check_deadline(std::int64_t now_ms) {
  if (closed_ || deadline_ms_ == 0 || now_ms < deadline_ms_) return;
  deadline_ms_ = 0;
  if (waiting_ == wait::write || waiting_ == wait::linger) {
    close_now();
    return;
  }
  session_.timeout();
  if (waiting_ == wait::read) {
    // Cancel the read wait: the 408 (if any) goes out now and the connection closes.
    waiting_ = wait::none;
    asio::error_code ec;
    sock_.cancel(ec);
  }
  pump();
}

void connection::drain() {
  session_.drain();
  if (waiting_ == wait::read && session_.done()) close_now();
}

void connection::abort() { close_now(); }

void connection::start_linger() {
  ::shutdown(fd_, SHUT_WR);
  await(wait::linger);
}

void connection::on_linger_readable() {
  char sink[4096];
  for (;;) {
    const ssize_t n = ::recv(fd_, sink, sizeof sink, 0);
    if (n > 0) continue;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      await(wait::linger);
      return;
    }
    close_now();  // EOF or error: the client has everything it will read
    return;
  }
}

void connection::close_now() {
  if (closed_) return;
  closed_ = true;
  waiting_ = wait::none;
  if (registered_) {
    asio::error_code ec;
    sock_.close(ec);  // pending waits complete with operation_aborted
  } else {
    ::close(fd_);
  }
  if (pending_ops_ == 0) srv_.remove(this);
}

}  // namespace hive::detail

#include "net/connection.hpp"

#include <algorithm>
#include <cstring>

#include <asio/post.hpp>

#include "net/server_core.hpp"
#include "util/log.hpp"

namespace hive::detail {

namespace {
// After a rejection the client may still be sending; reading it for a while lets the error
// response arrive instead of being destroyed by a reset (RFC 9112 §9.6).
constexpr std::int64_t linger_ms = 2000;
// How long an idle keep-alive connection may still bring a request once the worker drains.
constexpr std::int64_t drain_grace_ms = 1000;
// Memory segments per gather write.
constexpr int max_iov = 64;
}  // namespace

connection::connection(server_core& srv, int fd)
    : srv_(srv),
      transport_(srv.io(), fd),
      session_(srv.routes(), srv.config(), srv.pool(), srv.inputs()) {
  session_.set_wake(&connection::wake, this);
  if (srv.draining()) session_.drain();
}

connection::~connection() = default;

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

// Asked by the transport at the moment it reads. An idle keep-alive connection holds no buffer:
// when its next request arrives it is read into the worker's landing buffer, which the
// connection adopts in on_read — Asio runs the completion of a read performed for an epoll event
// right after the read, with nothing in between. A read that Asio tries at once while the
// connection arms it completes later, though, so it goes into the connection's own stash.
std::span<char> connection::input_window() {
  std::span<char> w;
  if (state_ == state::lingering) {
    window_ = window::sink;
    w = srv_.sink();
  } else if (arming_) {
    window_ = window::stash;
    w = {stash_, sizeof stash_};
  } else if (session_.has_input()) {
    window_ = window::own;
    w = session_.prepare();
  } else {
    window_ = window::landing;
    w = srv_.lend_landing(this);
  }
  window_size_ = static_cast<std::uint32_t>(std::min<std::size_t>(w.size(), UINT32_MAX));
  return w;
}

void connection::on_read(const asio::error_code& ec, std::size_t n) {
  if (state_ == state::closed || ec == asio::error::operation_aborted) return;
  if (ec == asio::error::eof) {
    peer_closed();
  } else if (ec) {
    close_now();  // reset: the client is gone
    return;
  } else {
    deliver(n);
  }
  run();
}

void connection::deliver(std::size_t n) {
  // A read that filled its window may have left more in the socket.
  try_read_ = maybe_unread_ = n == window_size_;
  switch (window_) {
    case window::own:
      session_.commit(n);
      break;
    case window::stash: {
      const auto in = session_.prepare();
      std::memcpy(in.data(), stash_, n);
      session_.commit(n);
      break;
    }
    case window::landing: {
      input_buffer b = srv_.reclaim_landing(this);
      if (!b) {
        // Another read took the landing buffer between this one and its completion: the bytes
        // cannot be trusted to be this client's. Asio's epoll reactor never does that.
        log_line("hive: a read completed out of order; closing the connection");
        close_now();
        return;
      }
      session_.adopt(std::move(b), n);
      break;
    }
    case window::sink:
      break;  // lingering: read only to be thrown away
  }
}

// The client closed its sending side.
void connection::peer_closed() {
  try_read_ = maybe_unread_ = false;
  if (state_ == state::lingering) {
    close_now();  // it has everything it will read
    return;
  }
  // Waiting for a deferred response with nothing more to answer: nobody will read it (RFC 9112
  // §9.6 lets a server close). Complete requests still unread are answered first.
  if (session_.current_phase() == session::phase::handling && !session_.unread_input()) {
    session_.peer_gone();
    return;
  }
  session_.on_eof();
}

void connection::on_writable(const asio::error_code& ec) {
  if (state_ == state::closed || ec == asio::error::operation_aborted) return;
  if (ec) {
    close_now();
    return;
  }
  run();
}

void connection::run() {
  if (in_run_) return;  // a deferred response finished from inside this run: the loop sees it
  in_run_ = true;
  while (state_ != state::closed) {
    if (session_.has_output()) {
      const flushed f = flush();
      if (f == flushed::all) continue;  // writing may have let held-back requests through
      if (f == flushed::failed) {
        close_now();  // EPIPE, ECONNRESET: the client is gone
        break;
      }
      wait_for(wait::write);
      transport_.arm_write(*this);
      break;
    }
    if (state_ == state::lingering) {
      wait_for(wait::linger);
      arm_read();
      break;
    }
    if (session_.done()) {
      // Unread input (pipelined past a close, or not yet read) would turn close() into a reset
      // that can destroy the answer in flight: half-close and drain first (RFC 9112 §9.6).
      if (session_.linger() || session_.unread_input() || maybe_unread_) {
        transport_.shutdown_write();
        state_ = state::lingering;
        continue;
      }
      close_now();
      break;
    }
    if (!session_.accepts_input()) {
      wait_for(wait::none);  // a deferred response holds the pipeline; wake() resumes
      break;
    }
    if (try_read_ && !transport_.read_armed()) {
      if (!read_now()) break;
      continue;
    }
    wait_for(session_.wants_read() ? wait::read : wait::none);
    session_.release_if_idle();
    arm_read();
    break;
  }
  in_run_ = false;
}

connection::flushed connection::flush() {
  while (output_queue* out = session_.output()) {
    iovec iov[max_iov];
    output_queue::file_range file;
    const int n = out->next(iov, max_iov, file);
    std::size_t want = 0;
    io_result r;
    if (n > 0) {
      for (int i = 0; i < n; ++i) want += iov[i].iov_len;
      r = transport_.write({iov, static_cast<std::size_t>(n)});
    } else {
      want = file.length;
      r = transport_.send_file(file);
    }
    if (r.k == io_result::kind::would_block) return flushed::blocked;
    if (r.k != io_result::kind::done) return flushed::failed;
    if (waiting_ == wait::write) waiting_ = wait::none;  // progress: a fresh write deadline
    session_.consume(r.n);  // may handle held-back requests, which adds output
    if (r.n < want) return flushed::blocked;  // the socket is full
  }
  return flushed::all;
}

bool connection::read_now() {
  const auto in = session_.prepare();
  const io_result r = transport_.read(in);
  switch (r.k) {
    case io_result::kind::done:
      try_read_ = maybe_unread_ = r.n == in.size();
      session_.commit(r.n);
      return true;
    case io_result::kind::eof:
      peer_closed();
      return true;
    case io_result::kind::would_block:
      try_read_ = maybe_unread_ = false;
      session_.release_if_idle();
      return true;
    case io_result::kind::error:
      break;
  }
  close_now();
  return false;
}

void connection::arm_read() {
  if (transport_.read_armed()) return;
  arming_ = true;
  transport_.arm_read(*this);
  arming_ = false;
  if (!transport_.read_armed()) close_now();  // the event loop refused the socket
}

void connection::wait_for(wait w) {
  if (w == wait::none) {
    // Waiting on nothing (a deferred response holds the pipeline): no deadline applies, least of
    // all one left over from an earlier write.
    waiting_ = w;
    deadline_ms_ = 0;
    return;
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
  if (state_ == state::closed || deadline_ms_ == 0 || now_ms < deadline_ms_) return;
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
  if (state_ == state::closed) return;
  state_ = state::closed;
  session_.peer_gone();  // a deferred response still pending stops being pending
  transport_.close();
  srv_.remove(this);
}

}  // namespace hive::detail

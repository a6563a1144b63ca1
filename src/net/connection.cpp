#include "net/connection.hpp"

#include <sys/epoll.h>

#include <algorithm>

#include <asio/post.hpp>

#include "net/server_core.hpp"
#include "util/counters.hpp"

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

connection::connection(server_core& srv, int fd, const address& peer)
    : srv_(srv),
      transport_(fd),
      peer_(peer),
      session_(srv.app_side(), srv.config(), srv.pool(), srv.inputs()) {
  session_.set_peer(&peer_);
  session_.set_wake(&connection::wake, this);
  if (srv.draining()) {
    draining_ = true;
    session_.drain();
  }
}

connection::~connection() = default;

void connection::start() {
  if (const tls_context* ctx = srv_.tls()) {
    SSL* ssl = ctx->accept(transport_.descriptor());
    if (ssl == nullptr) {
      close_now();  // never fall back to plain on a TLS port
      return;
    }
    tls_ = std::make_unique<tls_stream>(ssl);
  }
  run();
}

// A deferred or streamed response moved on from user code: write it, and handle what is
// pipelined behind it, from the loop rather than from inside the user's call.
void connection::wake(void* self) {
  auto* c = static_cast<connection*>(self);
  if (c->wake_posted_) return;
  c->wake_posted_ = true;
  asio::post(c->srv_.io(), [c, alive = c->srv_.alive()] {
    if (alive.expired()) return;  // the server, and with it `c`, is gone
    c->wake_posted_ = false;  // server_core keeps a closed connection alive while this is set
    if (c->state_ == state::closed) return;
    if (!c->upgraded_) c->session_.resume();
    c->run();
  });
}

void connection::on_events(std::uint32_t events) {
  if (state_ == state::closed) return;
  if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) readable_ = true;
  if ((events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0) writable_ = true;
  if ((events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) hup_ = true;
  // TLS: a read may wait for the socket to be writable (a handshake flight) and a write for it
  // to be readable, so any edge lets both directions try again; a call that cannot go on says
  // so (would_block) and clears its flag.
  if (tls_ && (events & (EPOLLIN | EPOLLOUT)) != 0) readable_ = writable_ = true;
  // Both directions gone (reset, or closed after our FIN): nobody will read a held answer, so
  // release the connection now rather than when the application finishes it.
  if ((events & (EPOLLHUP | EPOLLERR)) != 0) {
    const auto next = proto().step();
    if (next == protocol::next::hold || next == protocol::next::wait) {
      close_now();
      return;
    }
  }
  run();
}

void connection::run() {
  if (in_run_) return;  // a deferred response finished from inside this run: the loop sees it
  in_run_ = true;
  // The HTTP session is called directly (it is final: no virtual calls on the hot path); a
  // successor after a 101 through the protocol interface.
  while (upgraded_ ? run_with(*upgraded_) : run_with(session_)) {
  }
  in_run_ = false;
  // Once per run, not per byte: a run grows a connection by at most its own caps.
  if (state_ != state::closed) srv_.report_held(held_, upgraded_ ? upgraded_->held() : session_.held());
}

// True when the protocol was handed off and the new one should run.
template <class P>
bool connection::run_with(P& p) {
  while (state_ != state::closed) {
    if (p.output() != nullptr) {
      if (!writable_) {
        wait_for(p, wait::write);
        break;
      }
      if (flush(p) == flushed::failed) {
        close_now();  // EPIPE, ECONNRESET: the client is gone
        break;
      }
      continue;  // writing may have let held-back requests through, or the socket is full
    }
    if (state_ == state::lingering) {
      linger_read(p);
      break;
    }
    const auto next = p.step();
    if (next == protocol::next::read || next == protocol::next::hold) {
      if (!readable_) {
        wait_for(p, next == protocol::next::read ? wait::read : wait::none);
        break;
      }
      if (!read_some(p)) break;
      continue;
    }
    if (next == protocol::next::wait) {
      wait_for(p, wait::none);  // the application holds the pipeline; wake() resumes
      break;
    }
    if (next == protocol::next::hand_off) return hand_off();
    // close or linger. Unread input in the socket would turn close() into a reset that can
    // destroy the answer in flight: half-close and drain first (RFC 9112 §9.6).
    if (next == protocol::next::linger || readable_) {
      if (tls_) tls_->notify_close();
      transport_.shutdown_write();
      state_ = state::lingering;
      continue;
    }
    close_now();
    break;
  }
  return false;
}

// After a 101: the successor takes the connection, fed what was read past the request.
bool connection::hand_off() {
  auto next = proto().successor();
  if (!next) {
    close_now();
    return false;
  }
  upgraded_ = std::move(next);
  upgraded_->set_wake(&connection::wake, this);
  if (draining_) upgraded_->drain();
  waiting_ = wait::none;  // a new protocol: fresh deadlines
  deadline_ms_ = 0;
  return true;
}

template <class P>
connection::flushed connection::flush(P& p) {
  output_queue* out = p.output();
  iovec iov[max_iov];
  output_queue::file_range file;
  const int n = out->next(iov, max_iov, file);
  std::size_t want = 0;
  io_result r;
  if (n > 0) {
    for (int i = 0; i < n; ++i) want += iov[i].iov_len;
    if (file.length != 0 && !tls_) [[unlikely]] {
      r = transport_.write_more({iov, static_cast<std::size_t>(n)});  // a file body follows
    } else {
      r = write_to({iov, static_cast<std::size_t>(n)});
    }
  } else {
    want = file.length;
    if (tls_) [[unlikely]] {
      r = tls_->send_file(file);
      if (r.k == io_result::kind::done && tls_->kernel_sends()) srv_.stats().add(srv_.stats().tls_kernel_file_bytes, r.n);
    } else {
      r = transport_.send_file(file);
    }
  }
  if (r.k == io_result::kind::would_block) {
    writable_ = false;
    return flushed::blocked;
  }
  if (r.k != io_result::kind::done) return flushed::failed;
  if (r.n < want) writable_ = false;  // the socket is full: the next edge says when it is not
  if (waiting_ == wait::write) waiting_ = wait::none;  // progress: a fresh write deadline
  srv_.stats().add(srv_.stats().bytes_out, r.n);
  p.consume(r.n);  // may handle held-back requests, which adds output
  return r.n < want ? flushed::blocked : flushed::all;
}

template <class P>
inline bool connection::read_some(P& p) {
  const auto in = p.prepare();
  const io_result r = read_from(in);
  switch (r.k) {
    case io_result::kind::done:
      // A short read emptied the socket: the next edge says when there is more (unless TLS
      // holds an EOF or error to report after these bytes).
      if (r.n < in.size() && !hup_ && !(tls_ && tls_->more_to_read())) readable_ = false;
      srv_.stats().add(srv_.stats().bytes_in, r.n);
      p.commit(r.n);
      return true;
    case io_result::kind::eof:
      readable_ = false;
      p.on_eof();
      return true;
    case io_result::kind::would_block:
      readable_ = false;
      p.release_if_idle();
      return true;
    case io_result::kind::error:
      break;
  }
  close_now();
  return false;
}

template <class P>
void connection::linger_read(P& p) {
  const auto sink = srv_.sink();
  while (readable_) {
    const io_result r = transport_.read(sink);
    if (r.k == io_result::kind::done) continue;
    if (r.k == io_result::kind::would_block) {
      readable_ = false;
      break;
    }
    close_now();  // EOF or error: the client has everything it will read
    return;
  }
  wait_for(p, wait::linger);
}

template <class P>
void connection::wait_for(P& p, wait w) {
  // Joining the poller costs a syscall, so a connection joins only once it has to wait — and
  // also while the application holds a response, so that a client going away is seen.
  if (!registered_ && (w != wait::none || p.step() == protocol::next::hold)) {
    if (!srv_.poll().add(transport_.descriptor(), this)) {
      close_now();
      return;
    }
    registered_ = true;
  }
  if (w == wait::none) {
    // Waiting on the application: no deadline applies, least of all one left over from a write.
    waiting_ = w;
    deadline_ms_ = 0;
    return;
  }
  const auto& o = srv_.opts();
  const std::int64_t now = srv_.now_ms() + srv_.tick_ms();  // never early: `now` lags a tick
  if (w == wait::read) {
    // A TLS handshake is part of the request's head: it runs under the header timeout.
    const auto timer = tls_ && !tls_->established() ? protocol::timer::head : p.read_timer();
    const auto progress = p.progress();
    if (waiting_ == wait::read && timer == deadline_timer_ && progress == deadline_progress_) return;
    deadline_timer_ = timer;
    deadline_progress_ = progress;
    switch (timer) {
      case protocol::timer::idle:
        // Draining: an idle connection gets the short grace, not a whole idle timeout.
        deadline_ms_ = now + (draining_ ? std::min<std::int64_t>(drain_grace_ms, o.idle_timeout.count())
                                        : o.idle_timeout.count());
        break;
      case protocol::timer::head: deadline_ms_ = now + o.header_timeout.count(); break;
      case protocol::timer::body: deadline_ms_ = now + o.body_timeout.count(); break;
      case protocol::timer::custom: deadline_ms_ = now + p.custom_timeout().count(); break;
      case protocol::timer::none: deadline_ms_ = 0; break;
    }
  } else if (w != waiting_) {
    deadline_timer_ = protocol::timer::none;
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
  proto().timeout();  // 408 for a half-sent request; nothing for an idle one
  run();
}

void connection::drain() {
  draining_ = true;
  proto().drain();
  // An idle keep-alive client may be sending its next request right now: closing at once would
  // lose it. Give it a short grace — a request that arrives is answered with `Connection: close`
  // — then close at the deadline as for any idle connection.
  if (waiting_ == wait::read && proto().read_timer() == protocol::timer::idle) {
    const std::int64_t grace = srv_.now_ms() + srv_.tick_ms() + drain_grace_ms;
    if (deadline_ms_ == 0 || deadline_ms_ > grace) deadline_ms_ = grace;
  }
}

void connection::close_now() {
  if (state_ == state::closed) return;
  state_ = state::closed;
  srv_.report_held(held_, {});
  if (tls_) tls_->notify_close();
  // Out of the poller's set before the close, explicitly: close() removes a registration only
  // when no other reference to the socket remains, and an event that outlived it would name a
  // freed connection. One epoll_ctl per connection that ever waited; one that answered and
  // closed without waiting never joined.
  if (registered_) srv_.poll().remove(transport_.descriptor());
  transport_.close();
  srv_.remove(this);
  proto().peer_gone();  // last: a held response's on_close is user code
}

}  // namespace hive::detail

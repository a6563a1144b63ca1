// One client connection: a transport (plain TCP now) below a protocol that gives the bytes
// meaning — the HTTP/1.1 session, or whatever it hands the connection to after a 101. The
// connection moves bytes between them as the protocol asks, and enforces its deadlines from the
// worker's coarse timer. Readiness comes from the worker's poller
// (edge-triggered, so the connection remembers what is ready). A keep-alive request costs one
// recv and one send; a connection whose request came with the accept (TCP_DEFER_ACCEPT) and
// which closes after answering never joins the poller at all.
#pragma once

#include <cstdint>
#include <memory>

#include "http/session.hpp"
#include "net/poller.hpp"
#include "net/tcp_transport.hpp"
#include "net/tls_stream.hpp"
#include "net/worker_budget.hpp"

namespace hive::detail {

class server_core;

class connection final : public poll_target {
 public:
  connection(server_core& srv, int fd, const address& peer);
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  // Reads at once: with TCP_DEFER_ACCEPT the request (or the ClientHello) is usually here.
  void start();
  void on_events(std::uint32_t events) override;
  // Called by the server's coarse timer.
  void check_deadline(std::int64_t now_ms);
  // Graceful shutdown: close when idle, `Connection: close` on the next response otherwise.
  void drain();
  // Close now, whatever is in progress.
  void abort() { close_now(); }
  bool closed() const { return state_ == state::closed; }
  // Closed, and no work posted to the loop still names it: it may be freed.
  bool freeable() const { return state_ == state::closed && !wake_posted_; }
  // What it holds, as it last told the worker's budget (at the end of each run).
  const held_bytes& held() const { return held_; }

  // The server's list of connections.
  connection* prev = nullptr;
  connection* next = nullptr;

 private:
  enum class state : std::uint8_t {
    open,       // reading, handling and writing as the session asks
    lingering,  // answered and half-closed: reading and discarding until EOF (RFC 9112 §9.6)
    closed,
  };
  // What the current deadline is for.
  enum class wait : std::uint8_t { none, read, write, linger };

  // Does everything that can be done now: write, read, handle, close.
  void run();
  enum class flushed : std::uint8_t { all, blocked, failed };
  template <class P>
  bool run_with(P& p);
  template <class P>
  flushed flush(P& p);
  // Inlined into run_with as before TLS: the TLS branch made it just big enough to be called.
  template <class P>
  [[gnu::always_inline]] bool read_some(P& p);
  template <class P>
  void linger_read(P& p);
  bool hand_off();
  template <class P>
  void wait_for(P& p, wait w);
  protocol& proto() { return upgraded_ ? *upgraded_ : static_cast<protocol&>(session_); }
  void close_now();
  static void wake(void* self);
  // The one branch between plain TCP (inline, no virtual call) and TLS.
  io_result read_from(std::span<char> in) {
    if (tls_) [[unlikely]] return tls_->read(in);
    return transport_.read(in);
  }
  io_result write_to(std::span<const iovec> iov) {
    if (tls_) [[unlikely]] return tls_->write(iov);
    return transport_.write(iov);
  }

  server_core& srv_;
  tcp_transport transport_;
  std::unique_ptr<tls_stream> tls_;  // null on a plain listener
  address peer_;
  session session_;
  std::unique_ptr<protocol> upgraded_;  // the successor, after a 101: in charge from then on
  held_bytes held_;
  std::int64_t deadline_ms_ = 0;  // 0: none
  // What the deadline was set for: a new phase or a new message starts a new one.
  std::uint64_t deadline_progress_ = 0;
  protocol::timer deadline_timer_ = protocol::timer::none;
  state state_ = state::open;
  wait waiting_ = wait::none;
  bool readable_ = true;  // edge-triggered: what the last event said and no call has used up
  bool writable_ = true;
  bool hup_ = false;      // the peer closed: reads go on until they return 0
  bool draining_ = false;
  bool registered_ = false;
  bool in_run_ = false;
  bool wake_posted_ = false;
};

}  // namespace hive::detail

// One client connection: a transport (plain TCP now) below the HTTP/1.1 session that gives the
// bytes meaning. The connection moves bytes between them as the session asks, arms waits through
// the worker's event loop only when the socket has nothing to give or no room, and enforces the
// session's deadlines from the worker's coarse timer.
#pragma once

#include <cstdint>

#include "http/session.hpp"
#include "net/tcp_transport.hpp"

namespace hive::detail {

class server_core;

class connection final : public transport_client {
 public:
  connection(server_core& srv, int fd);
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  // Reads at once: with TCP_DEFER_ACCEPT the request is usually already here.
  void start() { run(); }
  // Called by the server's coarse timer.
  void check_deadline(std::int64_t now_ms);
  // Graceful shutdown: close when idle, `Connection: close` on the next response otherwise.
  void drain();
  // Close now, whatever is in progress.
  void abort() { close_now(); }
  bool closed() const { return state_ == state::closed; }
  // Gives the session's buffers back to the pools now (the server is going away).
  void release_buffers() { session_.release_all(); }
  // Closed, and nothing the loop still holds refers to it: it may be freed.
  bool freeable() const { return state_ == state::closed && !transport_.busy() && !wake_posted_; }

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
  // Where the bytes of the read in progress go (see input_window).
  enum class window : std::uint8_t { own, stash, landing, sink };

  // transport_client
  std::span<char> input_window() override;
  void on_read(const asio::error_code& ec, std::size_t n) override;
  void on_writable(const asio::error_code& ec) override;

  // Does everything that can be done now: write, read, handle, close.
  void run();
  enum class flushed : std::uint8_t { all, blocked, failed };
  flushed flush();
  bool read_now();
  void arm_read();
  void deliver(std::size_t n);
  void peer_closed();
  void wait_for(wait w);
  void close_now();
  static void wake(void* self);

  server_core& srv_;
  tcp_transport transport_;
  session session_;
  std::int64_t deadline_ms_ = 0;  // 0: none
  // What the deadline was set for: a new phase or a new message starts a new one.
  std::uint64_t deadline_message_ = 0;
  session::phase deadline_phase_ = session::phase::closing;
  state state_ = state::open;
  wait waiting_ = wait::none;
  window window_ = window::own;
  std::uint32_t window_size_ = 0;
  // Reads may be tried at once, without waiting: none has found the socket empty since the
  // last wait (a fresh connection, or after a read that filled its window).
  bool try_read_ = true;
  // The last read may have left bytes in the socket: closing would reset the connection.
  bool maybe_unread_ = true;
  bool arming_ = false;  // inside transport_.arm_read(): see input_window
  bool in_run_ = false;
  bool wake_posted_ = false;
  // Where a read armed speculatively lands (Asio may read at once, inside arm_read, and complete
  // later): bytes here are the connection's own, whatever happens to buffers meanwhile.
  char stash_[8];
};

}  // namespace hive::detail

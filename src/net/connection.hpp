// The Asio shell around one session: moves bytes between the socket and the session and enforces
// the session's deadlines. It reads and writes with plain recv/send on the non-blocking socket
// and uses Asio only to wait for readiness, so a keep-alive request costs one wait, one recv and
// one send. A connection whose request arrived with the accept (TCP_DEFER_ACCEPT) and which
// closes after answering is never registered with the event loop at all.
#pragma once

#include <cstdint>

#include <asio/ip/tcp.hpp>

#include "http/session.hpp"

namespace hive::detail {

class server_core;

class connection {
 public:
  connection(server_core& srv, int fd, const asio::ip::tcp& protocol);
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  // Reads at once: with TCP_DEFER_ACCEPT the request is usually already here.
  void start();
  // Called by the server's coarse timer.
  void check_deadline(std::int64_t now_ms);
  // Graceful shutdown: close when idle, `Connection: close` on the next response otherwise.
  void drain();
  // Close now, whatever is in progress.
  void abort();

  // The server's list of connections.
  connection* prev = nullptr;
  connection* next = nullptr;

 private:
  enum class wait { none, read, write, linger };

  void on_readable();
  void on_linger_readable();
  void pump();
  void await(wait w);
  void set_deadline();
  void close_now();
  void start_linger();
  static void wake(void* self);

  server_core& srv_;
  int fd_;
  asio::ip::tcp protocol_;
  asio::ip::tcp::socket sock_;
  session session_;
  wait waiting_ = wait::none;
  int pending_ops_ = 0;
  bool registered_ = false;
  bool closed_ = false;
  bool in_pump_ = false;
  std::int64_t deadline_ms_ = 0;  // 0: none
  // What the deadline was set for: a new phase or a new message starts a new one.
  session::phase deadline_phase_ = session::phase::closing;
  std::uint64_t deadline_message_ = 0;
};

}  // namespace hive::detail

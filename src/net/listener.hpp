// Accepts connections on one listening socket and hands each to the server. Accepts in batches
// with accept4 (non-blocking, close-on-exec in the same call). Out of descriptors, it stops
// instead of spinning on a socket that stays readable, and starts again as soon as one of its
// connections closes (or after 100 ms, for descriptors freed elsewhere in the process).
#pragma once

#include <memory>

#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include "net/poller.hpp"

namespace hive::detail {

class server_core;

// Readiness comes from the worker's poller, like the connections': no re-arm per accept batch.
class listener final : public poll_target {
 public:
  listener(server_core& srv, asio::ip::tcp::acceptor acceptor);
  ~listener();

  void start();
  void stop();  // stops accepting and closes this process's copy of the socket
  std::uint16_t port() const;
  // A descriptor was freed: if accepts are paused for want of one, resume them now.
  void on_descriptor_freed();
  void on_events(std::uint32_t events) override;

 private:
  void accept_batch();
  void pause();

  server_core& srv_;
  int fd_;  // -1 once stopped
  asio::steady_timer backoff_;
  bool stopped_ = false;
  bool paused_ = false;    // out of descriptors: the back-off timer, not readiness, is armed
  bool starved_ = false;   // paused since the last successful accept (one log line per episode)
  std::uint64_t starved_retries_ = 0;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // posted work checks it still exists
};

// Opens and binds a socket for host:port, close-on-exec, without listening: the one place that
// parses the host and explains a failed bind. Throws std::system_error whose what() names the
// address and says what to do. `reuse_port` for the cluster's per-slot sockets.
asio::ip::tcp::acceptor bind_address(asio::io_context& io, const std::string& host,
                                     std::uint16_t port, bool reuse_port);
// bind_address, then listens with hive's listener options (tune_listener).
asio::ip::tcp::acceptor bind_listener(asio::io_context& io, const std::string& host,
                                      std::uint16_t port, bool reuse_port, int backlog = 4096);

// Sets the options every hive listener has: TCP_NODELAY (inherited by accepted sockets) and
// TCP_DEFER_ACCEPT (wake only once a request has arrived).
void tune_listener(int fd);

}  // namespace hive::detail

// hive::server — one worker's HTTP server on an asio::io_context you own (embedding), and
// hive::serve — the same on a fresh io_context on this thread, until SIGINT or SIGTERM.
//
//   asio::io_context io{1};
//   hive::server srv(io, app, opts);
//   srv.listen();            // binds opts.host:opts.port; throws std::system_error with the reason
//   io.run();
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "hive/app.hpp"
#include "hive/options.hpp"

namespace asio {
class io_context;
}

namespace hive {

namespace detail {
class server_core;
struct server_access;
}  // namespace detail

class server {
 public:
  // `a` must outlive the server; `opts` is copied.
  server(asio::io_context& io, const app& a, const options& opts);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Binds opts.host:opts.port and starts accepting. Throws std::system_error whose what() says
  // what failed and what to do.
  void listen();
  // Starts accepting on a socket that is already bound and listening (the cluster hands each
  // worker its own); the server does not close it.
  void listen_on(int fd);
  // The bound port: useful after listening on port 0.
  std::uint16_t port() const;

  // Graceful stop: no new connections, `Connection: close` on the next response of every
  // connection, idle ones closed now; `done` runs once the last connection has closed.
  void shutdown(std::function<void()> done = {});
  // Stops accepting and closes every connection now.
  void close();

  std::size_t connection_count() const;

 private:
  friend struct detail::server_access;
  std::unique_ptr<detail::server_core> core_;
};

// Serves `a` in this process on this thread until SIGINT or SIGTERM (graceful: in-flight requests
// finish within opts.shutdown_timeout). Logs `hive <pid> listening on HOST:PORT` once ready.
// Returns the process exit status: 0 after a clean stop, 1 if it could not listen.
int serve(const app& a, const options& opts);

}  // namespace hive

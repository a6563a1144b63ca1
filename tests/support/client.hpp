// Test helpers over real loopback sockets: a blocking client with timeouts, and a hive::server
// running on its own io_context thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include <hive/hive.hpp>

#include "support/http_reader.hpp"

namespace asio {
class io_context;
}

namespace hive::test {

using namespace std::chrono_literals;

class client {
 public:
  explicit client(std::uint16_t port, const char* host = "127.0.0.1");
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  bool connected() const { return fd_ >= 0; }
  // False if the peer closed or reset.
  bool send(std::string_view bytes);
  void shutdown_write();
  // Reads until `n` complete responses arrived, the peer closed, or `timeout` passed.
  read_result read_responses(std::size_t n, std::chrono::milliseconds timeout = 5s,
                             const std::vector<bool>& head = {});
  // Reads everything until the peer closes (or `timeout`); `closed()` says which.
  std::string read_until_close(std::chrono::milliseconds timeout = 5s);
  // Reads what arrives within `timeout`.
  std::string read_for(std::chrono::milliseconds timeout);
  // True once the peer closed (EOF or reset); waits at most `timeout`, discarding data.
  bool wait_closed(std::chrono::milliseconds timeout = 5s);
  bool closed() const { return closed_; }
  // The peer reset the connection (ECONNRESET) rather than closing it cleanly.
  bool was_reset() const { return reset_; }
  int fd() const { return fd_; }

 private:
  // One read with a deadline: bytes appended to buf_; false on timeout, EOF or error.
  bool read_once(std::chrono::steady_clock::time_point deadline);
  int fd_ = -1;
  bool closed_ = false;
  bool reset_ = false;
  std::string buf_;
};

// One request on a fresh connection; returns every byte until the server closes.
std::string exchange(std::uint16_t port, std::string_view raw, std::chrono::milliseconds timeout = 5s);

class test_server {
 public:
  test_server(const hive::app& a, hive::options o);
  ~test_server();
  std::uint16_t port() const { return port_; }
  const hive::options& opts() const { return opts_; }
  // Starts a graceful shutdown on the server's thread; `drained` becomes true when it is done.
  void shutdown(std::atomic<bool>& drained);
  // The server's open connections, read on its own thread.
  std::size_t connections();
  // Runs `f` on the server's thread and waits for it.
  void run_on_loop(std::function<void()> f);
  asio::io_context& io();

 private:
  hive::options opts_;
  std::unique_ptr<asio::io_context> io_;
  std::unique_ptr<hive::server> server_;
  std::thread thread_;
  std::uint16_t port_ = 0;
};

}  // namespace hive::test

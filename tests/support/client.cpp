#include "support/client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <future>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>

namespace hive::test {

client::client(std::uint16_t port, const char* host) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  ::inet_pton(AF_INET, host, &sa.sin_addr);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    ::close(fd_);
    fd_ = -1;
    return;
  }
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

client::~client() {
  if (fd_ >= 0) ::close(fd_);
}

bool client::send(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

void client::shutdown_write() { ::shutdown(fd_, SHUT_WR); }

bool client::read_once(std::chrono::steady_clock::time_point deadline) {
  if (closed_) return false;
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return false;
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
  char tmp[65536];
  const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
  if (n <= 0) {
    reset_ = n < 0 && errno == ECONNRESET;
    closed_ = true;
    return false;
  }
  buf_.append(tmp, static_cast<std::size_t>(n));
  return true;
}

read_result client::read_responses(std::size_t n, std::chrono::milliseconds timeout,
                                   const std::vector<bool>& head) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    // Polls without copying the unparsed rest: a large body arriving in pieces stays linear.
    const auto r = hive::test::read_responses(buf_, head, false);
    if (r.responses.size() >= n || r.malformed || !read_once(deadline)) {
      auto all = hive::test::read_responses(buf_, head);
      buf_ = all.rest;
      return all;
    }
  }
}

std::string client::read_until_close(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (read_once(deadline)) {
  }
  return std::exchange(buf_, {});
}

std::string client::read_for(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (read_once(deadline)) {
  }
  return std::exchange(buf_, {});
}

bool client::wait_closed(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (read_once(deadline)) buf_.clear();
  return closed_;
}

std::string exchange(std::uint16_t port, std::string_view raw, std::chrono::milliseconds timeout) {
  client c(port);
  c.send(raw);
  return c.read_until_close(timeout);
}

test_server::test_server(const hive::app& a, hive::options o) : opts_(std::move(o)) {
  opts_.host = "127.0.0.1";
  opts_.port = 0;
  io_ = std::make_unique<asio::io_context>(1);
  server_ = std::make_unique<hive::server>(*io_, a, opts_);
  server_->listen();
  port_ = server_->port();
  thread_ = std::thread([this] {
    auto guard = asio::make_work_guard(*io_);
    io_->run();
  });
}

test_server::~test_server() {
  run_on_loop([this] { server_->close(); });
  io_->stop();
  thread_.join();
  server_.reset();
}

void test_server::run_on_loop(std::function<void()> f) {
  std::promise<void> done;
  asio::post(*io_, [&] {
    f();
    done.set_value();
  });
  done.get_future().wait();
}

asio::io_context& test_server::io() { return *io_; }

void test_server::shutdown(std::atomic<bool>& drained) {
  run_on_loop([&] { server_->shutdown([&] { drained = true; }); });
}

std::size_t test_server::connections() {
  std::size_t n = 0;
  run_on_loop([&] { n = server_->connection_count(); });
  return n;
}

}  // namespace hive::test

// Clients that hold a worker's resources by being slow: slowloris, readers that never read, and
// idle keep-alive connections. Real sockets, an in-process server, short configured timeouts.
#include <doctest/doctest.h>

#include <unistd.h>

#include <atomic>
#include <thread>

#include "abuse/abuse.hpp"
#include "support/client.hpp"

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {
std::atomic<int> handled{0};

const hive::app& abuse_app() {
  static const hive::app a = [] {
    hive::app app;
    app.get("/big", [](const hive::request&, hive::response& res) {
      ++handled;
      res.body(std::string(64 * 1024, 'b'), "application/octet-stream");
    });
    app.get("/*", [](const hive::request&, hive::response& res) { res.text("Hello, world!\n"); });
    return app;
  }();
  return a;
}

// One request on a fresh connection; how long the answer took, or 10 s if there was none.
std::chrono::milliseconds timed_request(std::uint16_t port) {
  const auto t0 = clock_type::now();
  hive::test::client c(port);
  c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  const auto r = c.read_responses(1, 10s);
  if (r.responses.size() != 1 || r.responses[0].status != 200) return 10s;
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - t0);
}
}  // namespace

TEST_CASE("abuse: slowloris connections do not stop normal clients and get 408 at the header timeout") {
  abuse::raise_nofile();
  hive::options o;
  o.header_timeout = 2s;
  hive::test::test_server srv(abuse_app(), o);
  const std::string head = "GET / HTTP/1.1\r\nHost: a\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
  constexpr int slow_count = 300;
  std::vector<int> slow;
  std::vector<std::string> got(slow_count);
  std::vector<bool> closed(slow_count, false);
  std::vector<clock_type::time_point> closed_at(slow_count);
  for (int i = 0; i < slow_count; ++i) {
    slow.push_back(abuse::open_client(srv.port()));
    REQUIRE(slow.back() >= 0);
  }
  const auto start = clock_type::now();
  std::chrono::milliseconds worst{0};
  std::size_t sent = 0;
  while (clock_type::now() - start < 4s) {
    // A header byte a second on every slow connection, and a normal request in between.
    for (int i = 0; i < slow_count; ++i) {
      if (!closed[i]) abuse::send_some(slow[i], std::string_view(head).substr(sent % head.size(), 1));
    }
    ++sent;
    for (int k = 0; k < 5; ++k) {
      worst = std::max(worst, timed_request(srv.port()));
      std::this_thread::sleep_for(150ms);
    }
    for (int i = 0; i < slow_count; ++i) {
      if (!closed[i] && !abuse::read_now(slow[i], got[i])) {
        closed[i] = true;
        closed_at[i] = clock_type::now();
      }
    }
  }
  MESSAGE("slowest normal request during the attack: " << worst.count() << " ms");
  CHECK(worst < 500ms);  // normal clients were served promptly throughout
  int answered_408 = 0, closed_count = 0;
  for (int i = 0; i < slow_count; ++i) {
    answered_408 += got[i].starts_with("HTTP/1.1 408 ");
    closed_count += closed[i];
    if (closed[i]) CHECK(closed_at[i] - start < 3500ms);  // header timeout 2 s, a tick, slack
    ::close(slow[i]);
  }
  CHECK(answered_408 == slow_count);
  CHECK(closed_count == slow_count);
}

TEST_CASE("abuse: a client that never reads gets its pipeline held at ~1 MiB queued, then closed at the write timeout") {
  abuse::raise_nofile();
  hive::options o;
  o.write_timeout = 1s;
  hive::test::test_server srv(abuse_app(), o);
  handled = 0;
  const int fd = abuse::open_client(srv.port(), 16 * 1024);
  REQUIRE(fd >= 0);
  // 2000 pipelined requests for 64 KiB each: 125 MiB of answers if nothing held them back.
  std::string pipeline;
  for (int i = 0; i < 2000; ++i) pipeline += "GET /big HTTP/1.1\r\nHost: a\r\n\r\n";
  std::string_view rest = pipeline;
  const auto start = clock_type::now();
  while (!rest.empty() && clock_type::now() - start < 1500ms) {
    const long n = abuse::send_some(fd, rest);
    if (n < 0) break;
    rest.remove_prefix(static_cast<std::size_t>(n));
    if (n == 0) std::this_thread::sleep_for(10ms);
  }
  std::this_thread::sleep_for(500ms);
  const int held_at = handled.load();
  MESSAGE("requests handled before the pipeline was held: " << held_at << " of 2000");
  // The 1 MiB cap plus what the kernel buffers (loopback send buffer up to 4 MiB): far from 2000.
  CHECK(held_at > 0);
  CHECK(held_at < 160);
  // Past the write timeout the server gives up: reading now finds the end of the stream.
  std::this_thread::sleep_for(1500ms);
  std::string got;
  const auto read_start = clock_type::now();
  bool open = true;
  while (open && clock_type::now() - read_start < 5s) {
    open = abuse::read_now(fd, got);
    if (open) std::this_thread::sleep_for(5ms);
  }
  CHECK(!open);
  CHECK(handled.load() <= held_at + 1);
  CHECK(got.size() < static_cast<std::size_t>(held_at + 1) * 66 * 1024);
  ::close(fd);
  // The worker is fine.
  CHECK(timed_request(srv.port()) < 500ms);
}

TEST_CASE("abuse: idle keep-alive connections are closed silently at the idle timeout") {
  abuse::raise_nofile();
  hive::options o;
  o.idle_timeout = 1s;
  hive::test::test_server srv(abuse_app(), o);
  constexpr int count = 200;
  std::vector<std::unique_ptr<hive::test::client>> clients;
  for (int i = 0; i < count; ++i) {
    clients.push_back(std::make_unique<hive::test::client>(srv.port()));
    clients.back()->send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    REQUIRE(clients.back()->read_responses(1).responses.size() == 1);
  }
  const auto idle_from = clock_type::now();
  for (auto& c : clients) {
    CHECK(c->read_for(50ms).empty());
  }
  for (auto& c : clients) {
    const std::string after = c->read_until_close(4s);
    CHECK(after.empty());  // no 408 for a connection with no request in progress
    CHECK(c->closed());
  }
  const auto took = clock_type::now() - idle_from;
  CHECK(took >= 900ms);
  CHECK(took < 3s);
}

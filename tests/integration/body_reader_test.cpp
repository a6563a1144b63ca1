// Streamed request bodies (route_options::stream_body) over real sockets: a paused reader stops
// the worker reading (the client's socket fills up), an early answer closes, the body timeout is
// one of inactivity.
#include <sys/socket.h>

#include <doctest/doctest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "support/client.hpp"

using namespace std::chrono_literals;

namespace {

// What the slow route saw, read and written on the server's thread.
struct bodyrd_slow_state {
  hive::body_reader reader;
  std::uint64_t bytes = 0;
  std::uint64_t largest_piece = 0;
  bool ended = false;
};

hive::app bodyrd_app(std::shared_ptr<bodyrd_slow_state> slow) {
  hive::app app;
  // Pauses after its first piece and stays paused until the test resumes it.
  app.put("/slow", [slow](const hive::request& req, hive::response& res) {
    auto done = res.defer();
    slow->reader = req.body_reader();
    slow->reader.on_data([slow](std::string_view piece) {
      slow->bytes += piece.size();
      slow->largest_piece = std::max<std::uint64_t>(slow->largest_piece, piece.size());
      if (slow->bytes == piece.size()) slow->reader.pause();
    });
    slow->reader.on_end([slow, done](bool complete) mutable {
      slow->ended = complete;
      done.finish([&](hive::response& r) { r.status(201).text(std::to_string(slow->bytes)); });
    });
  }, {.max_body = 256u << 20, .stream_body = true});
  // Pauses after every piece: the test resumes it from the loop, again and again.
  app.put("/pausy", [slow](const hive::request& req, hive::response& res) {
    auto done = res.defer();
    slow->reader = req.body_reader();
    auto sum = std::make_shared<std::uint64_t>(0);
    slow->reader.on_data([slow, sum](std::string_view piece) {
      for (unsigned char c : piece) *sum = *sum * 31 + c;
      slow->bytes += piece.size();
      slow->reader.pause();
    });
    slow->reader.on_end([slow, sum, done](bool complete) mutable {
      slow->ended = complete;
      done.finish([&](hive::response& r) { r.text(std::to_string(slow->bytes) + " " + std::to_string(*sum)); });
    });
  }, {.max_body = 256u << 20, .stream_body = true});
  // Refuses without reading: the answer goes out, the connection closes after it.
  app.put("/refuse", [](const hive::request&, hive::response& res) { res.status(401).text("no\n"); },
          {.stream_body = true});
  // Counts, answers at the end.
  app.put("/count", [](const hive::request& req, hive::response& res) {
    auto done = res.defer();
    auto n = std::make_shared<std::uint64_t>(0);
    auto body = req.body_reader();
    body.on_data([n](std::string_view piece) { *n += piece.size(); });
    body.on_end([n, done](bool complete) mutable {
      if (complete) done.finish([&](hive::response& r) { r.text(std::to_string(*n)); });
    });
  }, {.stream_body = true});
  // Its on_data throws at the second piece: on_end must say the body is not whole.
  app.put("/throws", [](const hive::request& req, hive::response& res) {
    auto done = res.defer();
    auto pieces = std::make_shared<int>(0);
    auto body = req.body_reader();
    body.on_data([pieces](std::string_view) {
      if (++*pieces == 2) throw std::runtime_error("disk full");
    });
    body.on_end([done](bool complete) mutable {
      done.finish([&](hive::response& r) { r.status(complete ? 201 : 500).text(complete ? "whole" : "cut"); });
    });
  }, {.max_body = 16u << 20, .stream_body = true});
  return app;
}

}  // namespace

TEST_CASE("integration: a paused body reader stops the worker reading; resumed, the body completes") {
  auto slow = std::make_shared<bodyrd_slow_state>();
  const hive::app app = bodyrd_app(slow);
  hive::test::test_server server(app, hive::options{});
  hive::test::client c(server.port());
  constexpr std::uint64_t total = 64u << 20;
  REQUIRE(c.send("PUT /slow HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(total) + "\r\n\r\n"));
  // Send without blocking until the socket is full: with the reader paused the worker reads
  // nothing more, so far less than the body fits in the kernel's buffers.
  const std::string block(1 << 16, 'b');
  std::uint64_t sent = 0;
  auto deadline = std::chrono::steady_clock::now() + 3s;
  int full_rounds = 0;
  while (sent < total && full_rounds < 20 && std::chrono::steady_clock::now() < deadline) {
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(block.size(), total - sent));
    const ssize_t n = ::send(c.fd(), block.data(), want, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::uint64_t>(n);
      full_rounds = 0;
    } else {
      ++full_rounds;
      std::this_thread::sleep_for(10ms);
    }
  }
  CHECK(sent < total / 2);  // the socket filled up: the worker stopped reading
  std::uint64_t seen = 0;
  server.run_on_loop([&] { seen = slow->bytes; });
  CHECK(seen < (1u << 20));  // one read's worth before the pause, not the kernel's buffers
  server.run_on_loop([&] { slow->reader.resume(); });
  while (sent < total) {
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(block.size(), total - sent));
    REQUIRE(c.send(std::string_view(block.data(), want)));
    sent += want;
  }
  const auto r = c.read_responses(1, 10s);
  REQUIRE(r.responses.size() == 1);
  CHECK(r.responses[0].status == 201);
  CHECK(r.responses[0].body == std::to_string(total));
  server.run_on_loop([&] {
    CHECK(slow->ended);
    CHECK(slow->largest_piece <= (1u << 20));
  });
}

TEST_CASE("integration: a streamed-body route that answers without reading: no 100 Continue, answer, close") {
  const hive::app app = bodyrd_app(std::make_shared<bodyrd_slow_state>());
  hive::test::test_server server(app, hive::options{});
  hive::test::client c(server.port());
  REQUIRE(c.send("PUT /refuse HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\nExpect: 100-continue\r\n\r\n"));
  const auto r = c.read_responses(1, 2s);
  REQUIRE(r.responses.size() == 1);
  CHECK(r.responses[0].status == 401);
  CHECK(r.responses[0].header("Connection") == "close");
  c.shutdown_write();
  CHECK(c.wait_closed(2s));
}

TEST_CASE("integration: a body reader whose on_data threw reports the body as not whole") {
  const hive::app app = bodyrd_app(std::make_shared<bodyrd_slow_state>());
  hive::test::test_server server(app, hive::options{});
  hive::test::client c(server.port());
  // Chunked, two chunks in two writes: two pieces for on_data, the second one throws.
  REQUIRE(c.send("PUT /throws HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n"));
  std::this_thread::sleep_for(100ms);
  REQUIRE(c.send("4\r\nefgh\r\n"));
  std::this_thread::sleep_for(100ms);
  REQUIRE(c.send("0\r\n\r\n"));
  const auto r = c.read_responses(1, 2s);
  REQUIRE(r.responses.size() == 1);
  CHECK(r.responses[0].status == 500);
  CHECK(r.responses[0].body == "cut");
}

TEST_CASE("integration: a streamed body's timeout counts from the last bytes, not from the head") {
  const hive::app app = bodyrd_app(std::make_shared<bodyrd_slow_state>());
  hive::options o;
  o.body_timeout = 300ms;
  hive::test::test_server server(app, o);
  {
    // 8 bytes over about 800 ms, never 300 ms apart: served.
    hive::test::client c(server.port());
    REQUIRE(c.send("PUT /count HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\n"));
    for (int i = 0; i < 8; ++i) {
      std::this_thread::sleep_for(100ms);
      REQUIRE(c.send("x"));
    }
    const auto r = c.read_responses(1, 2s);
    REQUIRE(r.responses.size() == 1);
    CHECK(r.responses[0].status == 200);
    CHECK(r.responses[0].body == "8");
  }
  {
    // Silent for longer than the timeout: 408.
    hive::test::client c(server.port());
    REQUIRE(c.send("PUT /count HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\nxx"));
    const auto r = c.read_responses(1, 3s);
    REQUIRE(r.responses.size() == 1);
    CHECK(r.responses[0].status == 408);
  }
}

TEST_CASE("integration: a chunked body paused after every piece arrives whole and in order") {
  auto slow = std::make_shared<bodyrd_slow_state>();
  const hive::app app = bodyrd_app(slow);
  hive::test::test_server server(app, hive::options{});
  hive::test::client c(server.port());
  std::string body;
  for (int i = 0; i < 300000; ++i) body += static_cast<char>('a' + (i * 7) % 26);
  std::uint64_t want_sum = 0;
  for (unsigned char ch : body) want_sum = want_sum * 31 + ch;
  std::string wire = "PUT /pausy HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (std::size_t at = 0, n = 1; at < body.size(); at += n, n = n * 3 % 7919 + 1) {
    n = std::min(n, body.size() - at);
    char size[20];
    std::snprintf(size, sizeof size, "%zx\r\n", n);
    wire += size;
    wire.append(body, at, n);
    wire += "\r\n";
  }
  wire += "0\r\n\r\n";
  std::thread resumer([&] {
    for (int i = 0; i < 20000; ++i) {
      bool ended = false;
      server.run_on_loop([&] {
        ended = slow->ended;
        slow->reader.resume();
      });
      if (ended) return;
    }
  });
  REQUIRE(c.send(wire));
  const auto r = c.read_responses(1, 10s);
  resumer.join();
  REQUIRE(r.responses.size() == 1);
  CHECK(r.responses[0].body == std::to_string(body.size()) + " " + std::to_string(want_sum));
}

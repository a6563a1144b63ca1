// The HTTP layer end to end over real loopback sockets: keep-alive, pipelining, uploads,
// 100-continue, deferred responses and every timeout.
#include <doctest/doctest.h>

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include "support/client.hpp"

using namespace std::chrono_literals;
using hive::test::client;
using hive::test::test_server;

namespace {

hive::app make_app(asio::io_context** io_slot) {
  hive::app app;
  app.post("/echo", [](const hive::request& req, hive::response& res) {
    res.body(req.body(), req.header("Content-Type").value_or("application/octet-stream"));
  });
  app.get("/big", [](const hive::request&, hive::response& res) {
    res.body(std::string(8 * 1024 * 1024, 'b'), "application/octet-stream");
  });
  app.get("/later/:ms", [io_slot](const hive::request& req, hive::response& res) {
    auto d = res.defer();
    auto timer = std::make_shared<asio::steady_timer>(**io_slot);
    timer->expires_after(std::chrono::milliseconds(std::stoi(std::string(*req.param("ms")))));
    std::string tag(*req.param("ms"));
    timer->async_wait([d, timer, tag](const asio::error_code&) mutable {
      d.finish([&](hive::response& r) { r.text("later " + tag); });
    });
  });
  app.get("/*", [](const hive::request& req, hive::response& res) {
    res.text("Hello " + std::string(req.path()));
  });
  return app;
}

struct fixture {
  explicit fixture(hive::options o = {}) : app(make_app(&io)), server(app, o) { io = &server.io(); }
  asio::io_context* io = nullptr;
  hive::app app;
  test_server server;
};

// The count drops one loop turn after the socket closes (the cancelled wait frees it).
bool connections_become(test_server& s, std::size_t n, std::chrono::milliseconds within = 1s) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  while (s.connections() != n) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

hive::options short_timeouts() {
  hive::options o;
  o.header_timeout = 400ms;
  o.body_timeout = 400ms;
  o.idle_timeout = 400ms;
  o.write_timeout = 400ms;
  return o;
}

}  // namespace

TEST_CASE("integration: keep-alive serves many requests on one connection") {
  fixture f;
  client c(f.server.port());
  REQUIRE(c.connected());
  for (int i = 0; i < 200; ++i) {
    REQUIRE(c.send("GET /n/" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\n\r\n"));
    const auto r = c.read_responses(1);
    REQUIRE(r.responses.size() == 1);
    CHECK(r.responses[0].body == "Hello /n/" + std::to_string(i));
  }
  CHECK(!c.closed());
}

TEST_CASE("integration: 16-deep pipelining is answered in order") {
  fixture f;
  client c(f.server.port());
  std::string batch;
  for (int i = 0; i < 16; ++i) batch += "GET /p/" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\n\r\n";
  for (int round = 0; round < 50; ++round) {
    REQUIRE(c.send(batch));
    const auto r = c.read_responses(16);
    REQUIRE(r.responses.size() == 16);
    for (int i = 0; i < 16; ++i) CHECK(r.responses[i].body == "Hello /p/" + std::to_string(i));
  }
}

TEST_CASE("integration: deferred responses finish later and pipelined answers keep their order") {
  fixture f;
  client c(f.server.port());
  REQUIRE(c.send("GET /later/150 HTTP/1.1\r\nHost: x\r\n\r\nGET /now HTTP/1.1\r\nHost: x\r\n\r\n"
                 "GET /later/10 HTTP/1.1\r\nHost: x\r\n\r\n"));
  const auto r = c.read_responses(3);
  REQUIRE(r.responses.size() == 3);
  CHECK(r.responses[0].body == "later 150");
  CHECK(r.responses[1].body == "Hello /now");
  CHECK(r.responses[2].body == "later 10");
}

TEST_CASE("integration: a chunked upload to /echo, sent in pieces") {
  fixture f;
  client c(f.server.port());
  REQUIRE(c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/x-up\r\nTransfer-Encoding: chunked\r\n\r\n"));
  std::string expected;
  for (int i = 0; i < 20; ++i) {
    const std::string piece(1000 + i, static_cast<char>('a' + i));
    expected += piece;
    char size[16];
    std::snprintf(size, sizeof size, "%x\r\n", static_cast<unsigned>(piece.size()));
    REQUIRE(c.send(std::string(size) + piece + "\r\n"));
    if (i % 5 == 0) std::this_thread::sleep_for(5ms);
  }
  REQUIRE(c.send("0\r\n\r\n"));
  const auto r = c.read_responses(1);
  REQUIRE(r.responses.size() == 1);
  CHECK(r.responses[0].status == 200);
  CHECK(r.responses[0].header("Content-Type") == "text/x-up");
  CHECK(r.responses[0].body.size() == expected.size());
  CHECK((r.responses[0].body == expected));
}

TEST_CASE("integration: Expect: 100-continue sends 100 before the body is sent") {
  fixture f;
  client c(f.server.port());
  REQUIRE(c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  const auto interim = c.read_responses(1, 2s);
  REQUIRE(interim.responses.size() == 1);
  CHECK(interim.responses[0].status == 100);
  REQUIRE(c.send("hello"));
  const auto final_ = c.read_responses(1);
  REQUIRE(final_.responses.size() == 1);
  CHECK(final_.responses[0].body == "hello");
}

TEST_CASE("integration: a rejection is delivered even while the client keeps sending") {
  hive::options o;
  o.max_body_bytes = 1024;
  fixture f(o);
  client c(f.server.port());
  REQUIRE(c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n"));
  // The server answers 413 before reading; without a lingering close, these bytes arriving after
  // the close would make the kernel reset the connection and could destroy the 413 in flight.
  const std::string junk(256 * 1024, 'j');
  c.send(junk);
  const auto r = c.read_responses(1);
  REQUIRE(r.responses.size() == 1);
  CHECK(r.responses[0].status == 413);
  CHECK(r.responses[0].header("Connection") == "close");
  CHECK(c.wait_closed(3s));
}

TEST_CASE("integration: header timeout answers 408 and closes (slowloris)") {
  fixture f(short_timeouts());
  client c(f.server.port());
  REQUIRE(c.send("GET / HTTP/1.1\r\nHost: x\r\n"));
  const auto start = std::chrono::steady_clock::now();
  // Trickling more header bytes does not extend the deadline.
  for (int i = 0; i < 3; ++i) {
    std::this_thread::sleep_for(100ms);
    c.send("X-Slow: 1\r\n");
  }
  const std::string got = c.read_until_close(3s);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  const auto r = hive::test::read_responses(got);
  REQUIRE(r.responses.size() == 1);
  CHECK(r.responses[0].status == 408);
  CHECK(c.closed());
  CHECK(elapsed < 1500ms);
}

TEST_CASE("integration: body timeout answers 408") {
  fixture f(short_timeouts());
  client c(f.server.port());
  REQUIRE(c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly a little"));
  const auto r = hive::test::read_responses(c.read_until_close(3s));
  REQUIRE(r.responses.size() == 1);
  CHECK(r.responses[0].status == 408);
  CHECK(c.closed());
}

TEST_CASE("integration: an idle keep-alive connection is closed without a word") {
  fixture f(short_timeouts());
  client c(f.server.port());
  REQUIRE(c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  REQUIRE(c.read_responses(1).responses.size() == 1);
  const auto start = std::chrono::steady_clock::now();
  const std::string rest = c.read_until_close(3s);
  CHECK(rest.empty());
  CHECK(c.closed());
  CHECK(std::chrono::steady_clock::now() - start < 1500ms);
  CHECK(connections_become(f.server, 0));
}

TEST_CASE("integration: a client that never reads is dropped at the write timeout") {
  fixture f(short_timeouts());
  client c(f.server.port());
  REQUIRE(c.send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::this_thread::sleep_for(200ms);
  CHECK(f.server.connections() == 1);  // stuck writing 8 MiB into a full socket buffer
  CHECK(connections_become(f.server, 0, 2s));
}

TEST_CASE("integration: graceful shutdown finishes the request in flight") {
  fixture f;
  client busy(f.server.port());
  client idle(f.server.port());
  REQUIRE(busy.send("GET /later/300 HTTP/1.1\r\nHost: x\r\n\r\n"));
  REQUIRE(idle.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  REQUIRE(idle.read_responses(1).responses.size() == 1);
  std::this_thread::sleep_for(50ms);
  std::atomic<bool> drained{false};
  f.server.shutdown(drained);
  CHECK(!drained);
  const auto r = busy.read_responses(1);
  REQUIRE(r.responses.size() == 1);
  CHECK(r.responses[0].body == "later 300");
  CHECK(r.responses[0].header("Connection") == "close");
  CHECK(busy.wait_closed(1s));
  CHECK(idle.wait_closed(3s));  // idle: closed after a short grace
  for (int i = 0; i < 100 && !drained; ++i) std::this_thread::sleep_for(10ms);
  CHECK(drained);
  client late(f.server.port());
  CHECK((!late.connected() || late.wait_closed(1s)));  // no longer accepting
}

TEST_CASE("integration: many connections at once") {
  fixture f;
  std::vector<std::unique_ptr<client>> clients;
  for (int i = 0; i < 200; ++i) clients.push_back(std::make_unique<client>(f.server.port()));
  for (auto& c : clients) REQUIRE(c->send("GET /many HTTP/1.1\r\nHost: x\r\n\r\n"));
  for (auto& c : clients) {
    const auto r = c->read_responses(1);
    REQUIRE(r.responses.size() == 1);
    CHECK(r.responses[0].body == "Hello /many");
  }
  CHECK(f.server.connections() == 200);
}

TEST_CASE("integration: draining, an idle keep-alive client's next request is still answered") {
  fixture f;
  client c(f.server.port());
  REQUIRE(c.send("GET /first HTTP/1.1\r\nHost: x\r\n\r\n"));
  REQUIRE(c.read_responses(1).responses.size() == 1);
  std::atomic<bool> drained{false};
  f.server.shutdown(drained);
  std::this_thread::sleep_for(100ms);  // the request crosses the start of the drain
  REQUIRE(c.send("GET /second HTTP/1.1\r\nHost: x\r\n\r\n"));
  const auto r = c.read_responses(1);
  REQUIRE(r.responses.size() == 1);
  CHECK(r.responses[0].body == "Hello /second");
  CHECK(r.responses[0].header("Connection") == "close");
  CHECK(c.wait_closed(1s));
  // The drain completes (and `drained`, which the server's thread writes, outlives it).
  for (int i = 0; i < 200 && !drained; ++i) std::this_thread::sleep_for(10ms);
  CHECK(drained);
}

TEST_CASE("integration: a deferred response is not cut by a write deadline left from before it") {
  hive::options o;
  o.write_timeout = 1s;
  fixture f(o);
  client c(f.server.port());
  // 8 MiB fills the socket, so the send blocks and a write deadline is set; the client reads it
  // in time; then the deferred request waits 2 s, past that deadline, with nothing to write.
  REQUIRE(c.send("GET /big HTTP/1.1\r\nHost: x\r\n\r\nGET /later/2000 HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::this_thread::sleep_for(200ms);
  const auto r = c.read_responses(2, 8s);
  REQUIRE(r.responses.size() == 2);
  CHECK(r.responses[0].body.size() == 8u * 1024 * 1024);
  CHECK(r.responses[1].body == "later 2000");
}

TEST_CASE("integration: closing with pipelined input unread is a clean close, not a reset") {
  fixture f;
  client c(f.server.port());
  std::string batch = "GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  for (int i = 0; i < 2000; ++i) batch += "GET /ignored HTTP/1.1\r\nHost: x\r\n\r\n";
  REQUIRE(c.send(batch));
  const auto r = hive::test::read_responses(c.read_until_close(5s));
  REQUIRE(r.responses.size() == 1);
  CHECK(r.responses[0].body == "Hello /last");
  CHECK(c.closed());
  CHECK(!c.was_reset());  // RFC 9112 §9.6: a reset could have destroyed the answer in flight
}

TEST_CASE("integration: a server destroyed while its io_context keeps running leaves nothing behind") {
  asio::io_context io(1);
  auto app = make_app(nullptr);
  hive::options o;
  o.host = "127.0.0.1";
  o.port = 0;
  auto srv = std::make_unique<hive::server>(io, app, o);
  srv->listen();
  const auto port = srv->port();
  std::thread t([&] { io.run_for(300ms); });
  client a(port), b(port);
  REQUIRE(a.send("GET /one HTTP/1.1\r\nHost: x\r\n\r\n"));
  REQUIRE(a.read_responses(1).responses.size() == 1);
  b.send("GET /par");  // half a request in flight
  t.join();
  srv->close();
  srv.reset();
  io.restart();
  io.run_for(200ms);  // handlers of the destroyed server run now: under ASan any use would show
  CHECK(a.wait_closed(1s));
  CHECK(b.wait_closed(1s));
}

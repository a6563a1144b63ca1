// Server-sent event streams against clients that stop reading or leave: a stream's reader that
// stops is closed at the write timeout with what the worker holds for it bounded, and a client
// that goes away runs on_close at once. Real sockets, an in-process server.
#include <doctest/doctest.h>

#include <unistd.h>

#include <memory>
#include <string>
#include <vector>
#include <thread>

#include <asio/steady_timer.hpp>

#include "abuse/abuse.hpp"
#include "support/client.hpp"

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

// Touched on the server's thread only (read through run_on_loop).
struct sse_seen {
  std::uint64_t produced = 0;  // event bytes handed to send()
  int closes = 0;
};

// A producer that honours backpressure: events as fast as the client takes them, no faster.
struct sse_pump : std::enable_shared_from_this<sse_pump> {
  hive::event_stream events;
  std::shared_ptr<sse_seen> seen;
  std::string payload = std::string(16 * 1024, 'p');
  void pump() {
    while (events.open()) {
      seen->produced += payload.size();
      if (!events.send(payload, "bulk")) return;  // on_drain calls again
    }
  }
};

// A producer that ignores it (a broadcast to every client, say): 16 KiB every 2 ms regardless.
struct sse_push : std::enable_shared_from_this<sse_push> {
  hive::event_stream events;
  std::shared_ptr<sse_seen> seen;
  asio::steady_timer timer{hive::worker::io()};
  void tick() {
    if (!events.open()) return;
    seen->produced += 16 * 1024;
    events.send(std::string(16 * 1024, 'q'), "push");
    timer.expires_after(2ms);
    timer.async_wait([self = shared_from_this()](const std::error_code& ec) {
      if (!ec) self->tick();
    });
  }
};

hive::app sse_app(std::shared_ptr<sse_seen> seen) {
  hive::app app;
  app.get("/pull", [seen](const hive::request&, hive::response& res) {
    auto p = std::make_shared<sse_pump>();
    p->seen = seen;
    p->events = hive::event_stream(res, {.heartbeat = 0ms});
    p->events.on_drain([weak = std::weak_ptr<sse_pump>(p)] {
      if (auto s = weak.lock()) s->pump();
    });
    p->events.on_close([seen, p] { ++seen->closes; });  // keeps the pump alive until then
    p->pump();
  });
  app.get("/push", [seen](const hive::request&, hive::response& res) {
    auto p = std::make_shared<sse_push>();
    p->seen = seen;
    p->events = hive::event_stream(res, {.heartbeat = 0ms});
    p->events.on_close([seen, weak = std::weak_ptr<sse_push>(p)] {
      ++seen->closes;
      if (auto s = weak.lock()) s->timer.cancel();
    });
    p->tick();
  });
  // One event, then quiet: held open by a handle the test keeps.
  app.get("/quiet", [seen](const hive::request&, hive::response& res) {
    auto events = std::make_shared<hive::event_stream>(res, hive::event_stream::options{.heartbeat = 0ms});
    events->send("hello");
    events->on_close([seen, events] { ++seen->closes; });  // the handle lives until the client goes
  });
  app.get("/*", [](const hive::request&, hive::response& res) { res.text("ok\n"); });
  return app;
}

// Opens `path` with a small receive buffer, reads the head and a little, then stops reading.
// Returns the socket, or -1.
int stop_reading_after_head(std::uint16_t port, const char* path) {
  const int fd = abuse::open_client(port, 16 * 1024);
  if (fd < 0) return -1;
  abuse::send_some(fd, std::string("GET ") + path + " HTTP/1.1\r\nHost: a\r\n\r\n");
  std::string got;
  for (int i = 0; i < 200 && got.find("\r\n\r\n") == std::string::npos; ++i) {
    abuse::read_now(fd, got);
    std::this_thread::sleep_for(5ms);
  }
  return got.find("text/event-stream") != std::string::npos ? fd : -1;
}

}  // namespace

TEST_CASE("abuse: an event stream whose client stops reading is closed at the write timeout, holding little") {
  abuse::raise_nofile();
  auto seen = std::make_shared<sse_seen>();
  const hive::app app = sse_app(seen);
  hive::options o;
  o.write_timeout = 1s;
  hive::test::test_server srv(app, o);
  for (const char* path : {"/pull", "/push"}) {
    const std::string which(path);
    CAPTURE(which);
    const auto start = clock_type::now();
    const int fd = stop_reading_after_head(srv.port(), path);
    REQUIRE(fd >= 0);
    // Meanwhile the worker serves others promptly.
    for (int i = 0; i < 5; ++i) {
      const auto t0 = clock_type::now();
      CHECK(hive::test::exchange(srv.port(), "GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").find("ok") != std::string::npos);
      CHECK(clock_type::now() - t0 < 1s);
    }
    // The client reads nothing more: once the kernel's buffers are full there is no progress, and
    // the write timeout (1 s) closes the connection; the stream's on_close says so.
    int closes = 0;
    std::uint64_t produced = 0;
    std::size_t open_connections = 1;
    while (clock_type::now() - start < 10s && (closes == 0 || open_connections > 0)) {
      std::this_thread::sleep_for(20ms);
      srv.run_on_loop([&] {
        closes = seen->closes;
        produced = seen->produced;
      });
      open_connections = srv.connections();
    }
    const auto after = std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - start);
    MESSAGE(std::string(path) << ": closed " << after.count() << " ms after the client stopped reading, "
                              << produced / 1024 << " KiB produced");
    CHECK(closes == 1);
    CHECK(open_connections == 0);
    CHECK(after < 8s);  // the kernel's buffers fill (a few MiB), then 1 s without progress
    if (std::string_view(path) == "/pull") {
      // What the producer made beyond what the kernel's buffers took waited in the worker: at
      // most 64 KiB and one event, where a producer that ignores backpressure goes on and on.
      CHECK(produced < 16u << 20);
    }
    srv.run_on_loop([&] {
      seen->closes = 0;
      seen->produced = 0;
    });
    ::close(fd);
  }
}

TEST_CASE("abuse: a client that leaves an event stream runs on_close at once; the worker goes on") {
  auto seen = std::make_shared<sse_seen>();
  const hive::app app = sse_app(seen);
  hive::test::test_server srv(app, hive::options{});
  for (int round = 0; round < 20; ++round) {
    hive::test::client c(srv.port());
    REQUIRE(c.send("GET /push HTTP/1.1\r\nHost: a\r\n\r\n"));
    CHECK(c.read_for(50ms).find("event: push") != std::string::npos);
  }  // each closes as it goes out of scope
  int closes = 0;
  for (int i = 0; i < 200 && closes < 20; ++i) {
    std::this_thread::sleep_for(10ms);
    srv.run_on_loop([&] { closes = seen->closes; });
  }
  CHECK(closes == 20);
  CHECK(srv.connections() == 0);
  CHECK(hive::test::exchange(srv.port(), "GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").find("ok") != std::string::npos);
}

TEST_CASE("abuse: open event streams hold no input buffer: 300 of them fit a 1 MiB input budget") {
  abuse::raise_nofile();
  auto seen = std::make_shared<sse_seen>();
  const hive::app app = sse_app(seen);
  hive::options o;
  o.max_worker_input_bytes = 1u << 20;  // 300 connections each holding a 16 KiB read buffer: 4.7 MiB
  hive::test::test_server srv(app, o);
  std::vector<int> fds;
  for (int i = 0; i < 300; ++i) {
    const int fd = abuse::open_client(srv.port());
    REQUIRE(fd >= 0);
    abuse::send_some(fd, "GET /quiet HTTP/1.1\r\nHost: a\r\n\r\n");
    fds.push_back(fd);
  }
  int streaming = 0;
  for (const int fd : fds) {
    std::string got;
    for (int i = 0; i < 400 && got.find("data: hello") == std::string::npos; ++i) {
      abuse::read_now(fd, got);
      if (got.find("data: hello") == std::string::npos) std::this_thread::sleep_for(5ms);
    }
    streaming += got.find("data: hello") != std::string::npos;
  }
  CHECK(streaming == 300);
  std::this_thread::sleep_for(300ms);  // past a turn of the budget check
  CHECK(srv.connections() == 300);
  int closes = -1;
  srv.run_on_loop([&] { closes = seen->closes; });
  CHECK(closes == 0);
  for (const int fd : fds) ::close(fd);
}

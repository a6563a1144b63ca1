// Topics in one process, and a slow consumer: a subscriber that never reads is closed once its
// send buffer passes the limit, while the others keep receiving everything.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#include <doctest/doctest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "support/client.hpp"
#include "ws/topics.hpp"
#include "ws/ws_raw.hpp"

using namespace std::chrono_literals;
using hive::wstest::frame;
using hive::wstest::make_frame;
using hive::wstest::raw_ws;

namespace wspubsub {

struct seen {
  std::mutex mu;
  std::vector<std::pair<int, std::string>> closes;
  std::atomic<int> drains{0};
};

hive::app make_app(seen& s) {
  hive::app app;
  hive::ws_behaviour<hive::ws_no_data> sub;
  sub.settings.max_backpressure_bytes = 16 * 1024;
  sub.settings.max_buffered_bytes = 256 * 1024;
  sub.open = [](hive::websocket<hive::ws_no_data>& ws) { ws.subscribe("t"); };
  sub.message = [](hive::websocket<hive::ws_no_data>& ws, std::string_view m, hive::ws_opcode) {
    if (m == "leave") ws.unsubscribe("t");
    ws.send(std::to_string(hive::ws_subscribers("t")));
  };
  sub.drain = [&s](hive::websocket<hive::ws_no_data>&) { ++s.drains; };
  sub.close = [&s](hive::websocket<hive::ws_no_data>&, int code, std::string_view reason) {
    std::lock_guard l(s.mu);
    s.closes.emplace_back(code, reason);
  };
  app.ws("/sub", sub);
  app.ws("/pub", {
      .message = [](hive::websocket<hive::ws_no_data>& ws, std::string_view m, hive::ws_opcode op) {
        ws.publish("t", m, op);
      },
  });
  return app;
}

std::unique_ptr<raw_ws> connect(std::uint16_t port, std::string_view path, int rcvbuf = 0) {
  auto ws = std::make_unique<raw_ws>(port, rcvbuf);
  REQUIRE(ws->handshake(path).starts_with("HTTP/1.1 101 "));
  return ws;
}

}  // namespace wspubsub

using namespace wspubsub;

TEST_CASE("ws topics: a publish reaches every subscriber once, text and binary; unsubscribe stops it") {
  seen s;
  const hive::app app = make_app(s);
  hive::test::test_server srv(app, hive::options{});
  auto a = connect(srv.port(), "/sub");
  auto b = connect(srv.port(), "/sub");
  a->send(make_frame(1, "count"));
  REQUIRE(a->read_frame().payload == "2");
  auto p = connect(srv.port(), "/pub");
  p->send(make_frame(1, "news") + make_frame(2, std::string("\x00\xff", 2)));
  for (auto* c : {a.get(), b.get()}) {
    const frame t = c->read_frame();
    CHECK(t.op == 1);
    CHECK(t.payload == "news");
    const frame bin = c->read_frame();
    CHECK(bin.op == 2);
    CHECK(bin.payload == std::string("\x00\xff", 2));
  }
  b->send(make_frame(1, "leave"));
  CHECK(b->read_frame().payload == "1");
  p->send(make_frame(1, "only a"));
  CHECK(a->read_frame().payload == "only a");
  CHECK(b->read_frame(300ms).op == -2);  // nothing for b
}

TEST_CASE("ws slow consumer: closed at its buffer limit while the others receive every message") {
  seen s;
  const hive::app app = make_app(s);
  hive::test::test_server srv(app, hive::options{});
  auto slow = connect(srv.port(), "/sub", 4096);  // and never reads
  auto fast = connect(srv.port(), "/sub");
  auto pub = connect(srv.port(), "/pub");
  const std::string body(4096, 'm');
  constexpr int rounds = 300, per_round = 8;  // 9.6 MiB to each subscriber
  int got = 0;
  for (int r = 0; r < rounds; ++r) {
    std::string batch;
    for (int k = 0; k < per_round; ++k) batch += make_frame(2, body);
    REQUIRE(pub->send(batch));
    for (int k = 0; k < per_round; ++k) {
      const frame f = fast->read_frame();
      REQUIRE(f.op == 2);
      REQUIRE(f.payload.size() == body.size());
      ++got;
    }
  }
  CHECK(got == rounds * per_round);
  bool slow_closed = false;
  {
    std::lock_guard l(s.mu);
    for (auto& [code, reason] : s.closes) slow_closed |= code == 1006 && reason.find("slow consumer") != std::string::npos;
  }
  CHECK(slow_closed);
  CHECK(slow->wait_eof(3000ms));
}

TEST_CASE("ws topics: subscribe/unsubscribe churn leaves nothing behind") {
  hive::app app;
  // "+name" joins a room, "-name" leaves it; every answer is how many topics the worker knows.
  app.ws("/rooms", {
      .message = [](hive::websocket<hive::ws_no_data>& ws, std::string_view m, hive::ws_opcode) {
        if (m.starts_with("+")) ws.subscribe(m.substr(1));
        if (m.starts_with("-")) ws.unsubscribe(m.substr(1));
        ws.send(std::to_string(hive::detail::ws_topic_count()));
      },
  });
  hive::test::test_server srv(app, hive::options{});
  auto a = connect(srv.port(), "/rooms");
  a->send(make_frame(1, "?"));
  const std::string base = a->read_frame().payload;
  for (int i = 0; i < 300; ++i) {
    a->send(make_frame(1, "+room" + std::to_string(i)));
    REQUIRE(a->read_frame().payload == std::to_string(std::stoi(base) + 1));
    a->send(make_frame(1, "-room" + std::to_string(i)));
    REQUIRE(a->read_frame().payload == base);
  }
  // Connections that leave without unsubscribing take their topics with them.
  for (int i = 0; i < 50; ++i) {
    auto b = connect(srv.port(), "/rooms");
    b->send(make_frame(1, "+gone" + std::to_string(i)));
    REQUIRE(b->read_frame().payload == std::to_string(std::stoi(base) + 1));
  }
  std::string now;
  for (int tries = 0; tries < 100 && now != base; ++tries) {  // the closes land on the server's loop
    a->send(make_frame(1, "?"));
    now = a->read_frame().payload;
    if (now != base) std::this_thread::sleep_for(20ms);
  }
  CHECK(now == base);
}

TEST_CASE("ws in a route group: the group's filters guard the handshake") {
  hive::app app;
  auto g = app.group("/private");
  g.use({.before = [](const hive::request& req, hive::response& res) {
    if (req.query("token") == "s3cret") return hive::filter_result::next;
    res.status(401).text("who are you?\n");
    return hive::filter_result::answered;
  }});
  g.ws("/echo", hive::ws_behaviour<hive::ws_no_data>{
      .message = [](hive::websocket<hive::ws_no_data>& ws, std::string_view m, hive::ws_opcode op) { ws.send(m, op); },
  });
  hive::test::test_server srv(app, hive::options{});
  {
    raw_ws ws(srv.port());
    CHECK(ws.handshake("/private/echo").starts_with("HTTP/1.1 401 "));
  }
  auto ws = connect(srv.port(), "/private/echo?token=s3cret");
  ws->send(make_frame(1, "hi"));
  CHECK(ws->read_frame().payload == "hi");
}

// The WebSocket case suite, after Autobahn|Testsuite's sections: a raw client sends exactly the
// bytes a case names and each case asserts the server's exact reaction — the echo, the close
// code, or the closed connection.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#include <doctest/doctest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "support/client.hpp"
#include "ws/ws_raw.hpp"

using namespace std::chrono_literals;
using hive::wstest::close_payload;
using hive::wstest::frame;
using hive::wstest::make_frame;
using hive::wstest::raw_ws;

namespace wscases {

struct closes {
  std::mutex mu;
  std::vector<std::pair<int, std::string>> seen;
  void add(int code, std::string_view reason) {
    std::lock_guard l(mu);
    seen.emplace_back(code, reason);
  }
};

struct user {
  std::string name;
};

hive::app make_app(closes& c) {
  hive::app app;
  app.ws("/echo", {
      .message = [](hive::websocket<hive::ws_no_data>& ws, std::string_view m, hive::ws_opcode op) {
        if (m == "please close") {
          ws.close(4000, "asked");
          return;
        }
        ws.send(m, op);
      },
      .close = [&c](hive::websocket<hive::ws_no_data>&, int code, std::string_view reason) { c.add(code, reason); },
  });
  hive::ws_behaviour<hive::ws_no_data> small;
  small.settings.max_message_bytes = 1000;
  small.settings.max_frame_bytes = 600;
  small.message = [](hive::websocket<hive::ws_no_data>& ws, std::string_view m, hive::ws_opcode op) { ws.send(m, op); };
  app.ws("/small", small);
  hive::ws_behaviour<hive::ws_no_data> idle;
  idle.settings.idle_timeout = 150ms;
  idle.settings.pong_timeout = 150ms;
  app.ws("/idle", idle);
  app.ws<user>("/auth", {
      .upgrade = [](const hive::request& req, hive::ws_upgrade& up, user& u) {
        const auto name = req.query("name");
        if (!name) return up.refuse(401, "a name, please");
        u.name = *name;
        for (auto p : up.offered_protocols()) {
          if (p == "chat.v2") up.select_protocol(p);
        }
      },
      .open = [](hive::websocket<user>& ws) { ws.send("hello " + ws.data().name + " " + std::string(ws.protocol())); },
  });
  return app;
}

struct fixture {
  explicit fixture(hive::options o = {}) : srv(app, std::move(o)) {}
  closes c;
  hive::app app = make_app(c);
  hive::test::test_server srv;
};

// The worker's timer ticks at a quarter of its shortest HTTP timeout (at most once a second):
// a short one lets the WebSocket's short test timers fire on time.
hive::options fast_ticks() {
  hive::options o;
  o.idle_timeout = 400ms;
  return o;
}

// A connection through the handshake.
std::unique_ptr<raw_ws> open_ws(fixture& f, std::string_view path = "/echo") {
  auto ws = std::make_unique<raw_ws>(f.srv.port());
  const auto head = ws->handshake(path);
  REQUIRE(head.starts_with("HTTP/1.1 101 "));
  return ws;
}

// The server answers with a close frame with `code`, then closes TCP.
void expect_close(raw_ws& ws, int code) {
  frame f = ws.read_frame();
  while (f.op == 1 || f.op == 2 || f.op == 10) f = ws.read_frame();  // echoes before the failure
  REQUIRE(f.op == 8);
  CHECK(f.close_code() == code);
  CHECK(ws.wait_eof());
}

void expect_echo(raw_ws& ws, int op, std::string_view payload) {
  const frame f = ws.read_frame();
  REQUIRE(f.op == op);
  CHECK(f.fin);
  CHECK(f.payload == payload);
}

}  // namespace wscases

using namespace wscases;

TEST_CASE("ws handshake: 101 with the RFC's accept value; bytes sent with the request are not lost") {
  fixture f;
  raw_ws ws(f.srv.port());
  const auto head = ws.handshake("/echo", {}, make_frame(1, "early"));
  CHECK(head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
  CHECK(head.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n") != std::string::npos);
  CHECK(head.find("Upgrade: websocket\r\n") != std::string::npos);
  expect_echo(ws, 1, "early");
}

TEST_CASE("ws handshake: other versions get 426 with Sec-WebSocket-Version, malformed ones 400, plain GET 426") {
  fixture f;
  const auto v8 = hive::test::exchange(f.srv.port(),
      "GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n");
  CHECK(v8.starts_with("HTTP/1.1 426 "));
  CHECK(v8.find("Sec-WebSocket-Version: 13\r\n") != std::string::npos);
  const auto bad_key = hive::test::exchange(f.srv.port(),
      "GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: short==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  CHECK(bad_key.starts_with("HTTP/1.1 400 "));
  const auto no_key = hive::test::exchange(f.srv.port(),
      "GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n");
  CHECK(no_key.starts_with("HTTP/1.1 400 "));
  const auto plain = hive::test::exchange(f.srv.port(), "GET /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  CHECK(plain.starts_with("HTTP/1.1 426 "));
  const auto post = hive::test::exchange(f.srv.port(), "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
  CHECK(post.starts_with("HTTP/1.1 405 "));
}

TEST_CASE("ws handshake: the upgrade step refuses with 401, or picks an offered subprotocol and fills user data") {
  fixture f;
  raw_ws refused(f.srv.port());
  CHECK(refused.handshake("/auth").starts_with("HTTP/1.1 401 "));
  raw_ws ws(f.srv.port());
  const auto head = ws.handshake("/auth?name=ann", "Sec-WebSocket-Protocol: chat.v1, chat.v2\r\n");
  REQUIRE(head.starts_with("HTTP/1.1 101 "));
  CHECK(head.find("Sec-WebSocket-Protocol: chat.v2\r\n") != std::string::npos);
  expect_echo(ws, 1, "hello ann chat.v2");
}

TEST_CASE("ws framing: text and binary echo at every length encoding, and one byte per read") {
  fixture f;
  auto ws = open_ws(f);
  for (std::size_t n : {0, 1, 125, 126, 127, 65535, 65536, 200000}) {
    const std::string text(n, 'a');
    ws->send(make_frame(1, text));
    expect_echo(*ws, 1, text);
    std::string bin(n, '\0');
    for (std::size_t i = 0; i < n; ++i) bin[i] = static_cast<char>(i * 7);
    ws->send(make_frame(2, bin));
    expect_echo(*ws, 2, bin);
  }
  ws->send_bytewise(make_frame(1, "split everywhere") + make_frame(2, std::string(300, 'x')));
  expect_echo(*ws, 1, "split everywhere");
  expect_echo(*ws, 2, std::string(300, 'x'));
  ws->send(make_frame(1, "sixty-four", true, true, 0, true));  // a 64-bit length for a short payload
  expect_echo(*ws, 1, "sixty-four");
}

TEST_CASE("ws framing: an unmasked client frame is refused with 1002") {
  fixture f;
  auto ws = open_ws(f);
  ws->send(make_frame(1, "bare", true, false));
  expect_close(*ws, 1002);
}

TEST_CASE("ws framing: a 64-bit length with its top bit set is refused with 1002") {
  fixture f;
  auto ws = open_ws(f);
  std::string fr = make_frame(2, "x", true, true, 0, true);
  fr[2] = static_cast<char>(0x80);
  ws->send(fr);
  expect_close(*ws, 1002);
}

TEST_CASE("ws ping/pong: answered at once with the payload; 125 bytes fine; 126 or fragmented refused") {
  fixture f;
  auto ws = open_ws(f);
  ws->send(make_frame(9, "are you there"));
  expect_echo(*ws, 10, "are you there");
  ws->send(make_frame(9, std::string(125, 'p')));
  expect_echo(*ws, 10, std::string(125, 'p'));
  ws->send(make_frame(10, "unsolicited"));  // ignored
  ws->send(make_frame(1, "after pong"));
  expect_echo(*ws, 1, "after pong");
  ws->send(make_frame(9, std::string(126, 'p')));
  expect_close(*ws, 1002);
  auto ws2 = open_ws(f);
  ws2->send(make_frame(9, "frag", false));
  expect_close(*ws2, 1002);
}

TEST_CASE("ws reserved bits: RSV1, RSV2, RSV3 without an extension are refused with 1002") {
  fixture f;
  for (int rsv : {0x40, 0x20, 0x10, 0x70}) {
    auto ws = open_ws(f);
    ws->send(make_frame(1, "reserved", true, true, rsv));
    expect_close(*ws, 1002);
  }
  auto ws = open_ws(f);
  ws->send(make_frame(9, "", true, true, 0x20));
  expect_close(*ws, 1002);
}

TEST_CASE("ws opcodes: every reserved opcode is refused with 1002, after what came before is echoed") {
  fixture f;
  for (int op : {3, 4, 5, 6, 7, 11, 12, 13, 14, 15}) {
    auto ws = open_ws(f);
    ws->send(make_frame(1, "before") + make_frame(op, "x"));
    expect_echo(*ws, 1, "before");
    expect_close(*ws, 1002);
  }
}

TEST_CASE("ws fragmentation: fragments make one message, control frames may come between them") {
  fixture f;
  auto ws = open_ws(f);
  ws->send(make_frame(1, "frag", false) + make_frame(9, "mid") + make_frame(0, "men", false) + make_frame(0, "ted"));
  expect_echo(*ws, 10, "mid");
  expect_echo(*ws, 1, "fragmented");
  ws->send(make_frame(2, std::string(1, '\x01'), false) + make_frame(0, "", false) + make_frame(0, std::string(1, '\x02')));
  expect_echo(*ws, 2, "\x01\x02");
}

TEST_CASE("ws fragmentation: a continuation with nothing to continue, or a new message mid-message, is 1002") {
  fixture f;
  auto ws = open_ws(f);
  ws->send(make_frame(0, "orphan"));
  expect_close(*ws, 1002);
  auto ws2 = open_ws(f);
  ws2->send(make_frame(1, "one", false) + make_frame(1, "two"));
  expect_close(*ws2, 1002);
  auto ws3 = open_ws(f);
  ws3->send(make_frame(8, close_payload(1000), false));
  expect_close(*ws3, 1002);
}

TEST_CASE("ws UTF-8: valid text in any split is echoed; invalid text is 1007, failed at the first bad byte") {
  fixture f;
  auto ws = open_ws(f);
  const std::string kosme = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5";
  ws->send(make_frame(1, kosme));
  expect_echo(*ws, 1, kosme);
  // Split inside a four-byte sequence, across three frames.
  const std::string emoji = "a\xf0\x9f\x98\x80z";
  ws->send(make_frame(1, emoji.substr(0, 2), false) + make_frame(0, emoji.substr(2, 2), false) + make_frame(0, emoji.substr(4)));
  expect_echo(*ws, 1, emoji);
  ws->send_bytewise(make_frame(1, kosme));
  expect_echo(*ws, 1, kosme);

  for (const std::string& bad : {std::string("\xc0\x80"), std::string("\xed\xa0\x80"), std::string("\xf4\x90\x80\x80"),
                                std::string("\xff"), std::string("ab\x80"), std::string("\xce")}) {
    auto w = open_ws(f);
    w->send(make_frame(1, bad));
    expect_close(*w, 1007);
  }
  // Fail fast: the first fragment is bad and the message never ends; the close still comes.
  auto w = open_ws(f);
  w->send(make_frame(1, "ok\xc0 then more", false));
  expect_close(*w, 1007);
  // A sequence cut short by the end of the message.
  auto w2 = open_ws(f);
  w2->send(make_frame(1, "\xe2\x82", false) + make_frame(0, ""));
  expect_close(*w2, 1007);
}

TEST_CASE("ws close: the code is echoed and the server closes TCP; an empty close gets an empty one") {
  fixture f;
  auto ws = open_ws(f);
  ws->send(make_frame(8, close_payload(1000, "bye")));
  frame c = ws->read_frame();
  REQUIRE(c.op == 8);
  CHECK(c.close_code() == 1000);
  CHECK(ws->wait_eof());
  auto ws2 = open_ws(f);
  ws2->send(make_frame(8, ""));
  c = ws2->read_frame();
  REQUIRE(c.op == 8);
  CHECK(c.payload.empty());
  CHECK(ws2->wait_eof());
  for (int code : {3000, 4999, 1001, 1003, 1011}) {
    auto w = open_ws(f);
    w->send(make_frame(8, close_payload(code)));
    c = w->read_frame();
    REQUIRE(c.op == 8);
    CHECK(c.close_code() == code);
    CHECK(w->wait_eof());
  }
  // The application learnt the codes received (1005 for none).
  bool saw_bye = false, saw_none = false;
  {
    std::lock_guard l(f.c.mu);
    for (auto& [code, reason] : f.c.seen) {
      saw_bye |= code == 1000 && reason == "bye";
      saw_none |= code == 1005;
    }
  }
  CHECK(saw_bye);
  CHECK(saw_none);
}

TEST_CASE("ws close: invalid codes and a one-byte payload are 1002, a reason that is not UTF-8 1007") {
  fixture f;
  for (int code : {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535}) {
    auto ws = open_ws(f);
    ws->send(make_frame(8, close_payload(code)));
    expect_close(*ws, 1002);
  }
  auto ws = open_ws(f);
  ws->send(make_frame(8, std::string(1, '\x03')));
  expect_close(*ws, 1002);
  auto ws2 = open_ws(f);
  ws2->send(make_frame(8, close_payload(1000, "\xff")));
  expect_close(*ws2, 1007);
}

TEST_CASE("ws close: frames after the close are not answered; a server close waits for the reply") {
  fixture f;
  auto ws = open_ws(f);
  ws->send(make_frame(8, close_payload(1000)) + make_frame(1, "too late") + make_frame(9, "late ping"));
  const frame c = ws->read_frame();
  REQUIRE(c.op == 8);
  CHECK(ws->read_frame().op == -1);  // nothing more, then EOF
  auto ws2 = open_ws(f);
  ws2->send(make_frame(1, "please close"));
  const frame sc = ws2->read_frame();
  REQUIRE(sc.op == 8);
  CHECK(sc.close_code() == 4000);
  CHECK(sc.payload.substr(2) == "asked");
  ws2->send(make_frame(8, close_payload(4000)));
  CHECK(ws2->wait_eof(1000ms));  // well within close_timeout after the reply
}

TEST_CASE("ws limits: a frame over max_frame_bytes or a message over max_message_bytes is 1009") {
  fixture f;
  auto ws = open_ws(f, "/small");
  ws->send(make_frame(2, std::string(600, 'x')));
  expect_echo(*ws, 2, std::string(600, 'x'));
  ws->send(make_frame(2, std::string(601, 'x')));
  expect_close(*ws, 1009);
  auto ws2 = open_ws(f, "/small");
  ws2->send(make_frame(1, std::string(600, 'x'), false) + make_frame(0, std::string(401, 'x')));
  expect_close(*ws2, 1009);
}

TEST_CASE("ws idle: a silent client is pinged, and closed when the pong does not come") {
  fixture f(fast_ticks());
  auto ws = open_ws(f, "/idle");
  const frame p = ws->read_frame(2000ms);
  CHECK(p.op == 9);
  ws->send(make_frame(10, p.payload));  // alive: pinged again later
  CHECK(ws->read_frame(2000ms).op == 9);
  CHECK(ws->wait_eof(2000ms));  // no answer this time
}

TEST_CASE("ws graceful stop: open connections get close 1001 and the server waits for the reply") {
  fixture f;
  auto ws = open_ws(f);
  std::atomic<bool> drained{false};
  f.srv.shutdown(drained);
  const frame c = ws->read_frame();
  REQUIRE(c.op == 8);
  CHECK(c.close_code() == 1001);
  ws->send(make_frame(8, close_payload(1001)));
  CHECK(ws->wait_eof());
  // The server reports the drain on its loop; `drained` must outlive that report.
  for (int i = 0; i < 300 && !drained; ++i) std::this_thread::sleep_for(10ms);
  CHECK(drained);
}

TEST_CASE("ws filters: an app filter that answers refuses the upgrade with its answer") {
  hive::app app;
  app.use({.before = [](const hive::request& req, hive::response& res) {
    if (req.header("X-Key") == std::optional<std::string_view>("k")) return hive::filter_result::next;
    res.status(401).text("key?\n");
    return hive::filter_result::answered;
  }});
  app.ws("/echo", {
      .message = [](hive::websocket<hive::ws_no_data>& ws, std::string_view m, hive::ws_opcode op) { ws.send(m, op); },
  });
  hive::test::test_server srv(app, hive::options{});
  raw_ws refused(srv.port());
  CHECK(refused.handshake("/echo").starts_with("HTTP/1.1 401 "));
  raw_ws ws(srv.port());
  REQUIRE(ws.handshake("/echo", "X-Key: k\r\n").starts_with("HTTP/1.1 101 "));
  ws.send(make_frame(1, "in"));
  expect_echo(ws, 1, "in");
}

TEST_CASE("ws filters: a head filter (at_head) that answers refuses the upgrade with its answer") {
  hive::app app;
  app.use({.before = [](const hive::request& req, hive::response& res) {
    if (req.header("X-Key") == std::optional<std::string_view>("k")) return hive::filter_result::next;
    res.status(401).text("key?\n");
    return hive::filter_result::answered;
  }, .at_head = true});
  app.ws("/echo", {
      .message = [](hive::websocket<hive::ws_no_data>& ws, std::string_view m, hive::ws_opcode op) { ws.send(m, op); },
  });
  hive::test::test_server srv(app, hive::options{});
  raw_ws refused(srv.port());
  CHECK(refused.handshake("/echo").starts_with("HTTP/1.1 401 "));
  raw_ws ws(srv.port());
  REQUIRE(ws.handshake("/echo", "X-Key: k\r\n").starts_with("HTTP/1.1 101 "));
  ws.send(make_frame(1, "in"));
  expect_echo(ws, 1, "in");
}

TEST_CASE("ws origin: a browser's handshake from another site is refused (403); same origin, no origin, listed ones pass") {
  hive::app app;
  auto echo = [](hive::websocket<hive::ws_no_data>& ws, std::string_view m, hive::ws_opcode op) { ws.send(m, op); };
  app.ws("/own", {.message = echo});
  app.ws("/listed", {.settings = {.allowed_origins = {"https://app.example"}}, .message = echo});
  app.ws("/any", {.settings = {.allowed_origins = {"*"}}, .message = echo});
  hive::test::test_server srv(app, hive::options{});
  const auto head = [&](std::string_view path, std::string_view origin) {
    raw_ws c(srv.port());
    return c.handshake(path, origin.empty() ? std::string() : "Origin: " + std::string(origin) + "\r\n");
  };
  CHECK(head("/own", "https://evil.example").starts_with("HTTP/1.1 403 "));
  CHECK(head("/own", "null").starts_with("HTTP/1.1 403 "));
  CHECK(head("/own", "http://t").starts_with("HTTP/1.1 101 "));  // Host: t
  CHECK(head("/own", "").starts_with("HTTP/1.1 101 "));
  CHECK(head("/listed", "https://app.example").starts_with("HTTP/1.1 101 "));
  CHECK(head("/listed", "https://APP.example").starts_with("HTTP/1.1 101 "));
  CHECK(head("/listed", "http://t").starts_with("HTTP/1.1 403 "));
  CHECK(head("/any", "https://evil.example").starts_with("HTTP/1.1 101 "));
}

// permessage-deflate (RFC 7692) in the case suite: negotiation (accepted, declined, parameters
// answered), compressed echo of text and binary, a fragmented compressed message, context
// takeover and its absence, RSV1 where it may not stand (1002), bad compressed data (1007), a
// zip bomb (1009), and a publish compressed for deflate subscribers and plain for the others.
// The raw client compresses and inflates with zlib itself.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#include <doctest/doctest.h>
#include <zlib.h>

#include <cstring>

#include "support/client.hpp"
#include "ws/deflate.hpp"
#include "ws/ws_raw.hpp"

using namespace std::chrono_literals;
using hive::wstest::frame;
using hive::wstest::make_frame;
using hive::wstest::raw_ws;

namespace wsdeflate {

// A client's zlib stream, compressing (deflate) or inflating.
class zstream {
 public:
  explicit zstream(bool deflating, int bits = 15) : deflating_(deflating) {
    std::memset(&z_, 0, sizeof z_);
    if (deflating) {
      deflateInit2(&z_, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -bits, 8, Z_DEFAULT_STRATEGY);
    } else {
      inflateInit2(&z_, -bits);
    }
  }
  ~zstream() {
    if (deflating_) deflateEnd(&z_); else inflateEnd(&z_);
  }
  // One message's payload: sync-flushed, the 00 00 FF FF tail removed (§7.2.1).
  std::string compress(std::string_view in) {
    std::string out(in.size() + 1024, '\0');
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z_.avail_in = static_cast<uInt>(in.size());
    z_.next_out = reinterpret_cast<Bytef*>(out.data());
    z_.avail_out = static_cast<uInt>(out.size());
    REQUIRE(deflate(&z_, Z_SYNC_FLUSH) == Z_OK);
    out.resize(out.size() - z_.avail_out);
    REQUIRE(out.size() >= 4);
    REQUIRE(out.substr(out.size() - 4) == std::string("\0\0\xff\xff", 4));
    out.resize(out.size() - 4);
    return out;
  }
  std::string inflate_message(std::string in) {
    in.append("\0\0\xff\xff", 4);
    std::string out(1 << 20, '\0');
    z_.next_in = reinterpret_cast<Bytef*>(in.data());
    z_.avail_in = static_cast<uInt>(in.size());
    z_.next_out = reinterpret_cast<Bytef*>(out.data());
    z_.avail_out = static_cast<uInt>(out.size());
    const int rc = inflate(&z_, Z_SYNC_FLUSH);
    REQUIRE((rc == Z_OK || rc == Z_BUF_ERROR));
    REQUIRE(z_.avail_in == 0);
    out.resize(out.size() - z_.avail_out);
    return out;
  }

 private:
  bool deflating_;
  z_stream z_;
};

hive::app z_make_app() {
  hive::app app;
  auto echo = [](hive::websocket<hive::ws_no_data>& ws, std::string_view m, hive::ws_opcode op) { ws.send(m, op); };
  hive::ws_behaviour<hive::ws_no_data> on;
  on.settings.deflate = true;
  on.settings.max_message_bytes = 100'000;
  on.message = echo;
  app.ws("/z", on);
  hive::ws_behaviour<hive::ws_no_data> alone = on;
  alone.settings.deflate_context_takeover = false;
  app.ws("/z-alone", alone);
  hive::ws_behaviour<hive::ws_no_data> off;
  off.message = echo;
  app.ws("/plain", off);
  // Publish: every message to the topic, which every connection of both routes follows.
  auto sub = [](hive::websocket<hive::ws_no_data>& ws) { ws.subscribe("news"); };
  auto pub = [](hive::websocket<hive::ws_no_data>& ws, std::string_view m, hive::ws_opcode op) {
    ws.publish("news", m, op);
  };
  hive::ws_behaviour<hive::ws_no_data> zsub = alone;
  zsub.open = sub;
  zsub.message = pub;
  app.ws("/news-z", zsub);
  hive::ws_behaviour<hive::ws_no_data> zsub_own = on;
  zsub_own.open = sub;
  zsub_own.message = pub;
  app.ws("/news-own", zsub_own);
  hive::ws_behaviour<hive::ws_no_data> psub = off;
  psub.open = sub;
  psub.message = pub;
  app.ws("/news", psub);
  return app;
}

struct zfixture {
  hive::app app = z_make_app();
  hive::test::test_server srv{app, {}};
};

const std::string z_offer = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";

std::string extensions_of(const std::string& head) {
  const auto at = head.find("Sec-WebSocket-Extensions: ");
  if (at == std::string::npos) return "(none)";
  const auto from = at + std::strlen("Sec-WebSocket-Extensions: ");
  return head.substr(from, head.find("\r\n", from) - from);
}

std::string negotiated(zfixture& f, std::string_view path, std::string_view header) {
  raw_ws ws(f.srv.port());
  const auto head = ws.handshake(path, header);
  REQUIRE(head.starts_with("HTTP/1.1 101 "));
  return extensions_of(head);
}

std::unique_ptr<raw_ws> open_z(zfixture& f, std::string_view path = "/z") {
  auto ws = std::make_unique<raw_ws>(f.srv.port());
  const auto head = ws->handshake(path, z_offer);
  REQUIRE(head.starts_with("HTTP/1.1 101 "));
  REQUIRE(extensions_of(head).starts_with("permessage-deflate"));
  return ws;
}

void z_expect_close(raw_ws& ws, int code) {
  frame f = ws.read_frame();
  while (f.op == 1 || f.op == 2) f = ws.read_frame();
  REQUIRE(f.op == 8);
  CHECK(f.close_code() == code);
  CHECK(ws.wait_eof());
}

std::string z_sample(std::size_t n) {
  std::string s;
  while (s.size() < n) s += "{\"user\":\"ada\",\"text\":\"hello, world\",\"n\":" + std::to_string(s.size()) + "} ";
  s.resize(n);
  return s;
}

}  // namespace wsdeflate

using namespace wsdeflate;

TEST_CASE("ws deflate negotiation: accepted, answered with the parameters it binds, declined when bad") {
  zfixture f;
  CHECK(negotiated(f, "/z", z_offer) == "permessage-deflate");
  CHECK(negotiated(f, "/z", "Sec-WebSocket-Extensions: permessage-deflate\r\n") == "permessage-deflate");
  // Off by default: the route without it declines.
  CHECK(negotiated(f, "/plain", z_offer) == "(none)");
  CHECK(negotiated(f, "/z", {}) == "(none)");
  // The client's wishes are bound in the answer.
  CHECK(negotiated(f, "/z", "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n") ==
        "permessage-deflate; server_no_context_takeover");
  CHECK(negotiated(f, "/z", "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10\r\n") ==
        "permessage-deflate; server_max_window_bits=10");
  CHECK(negotiated(f, "/z", "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=\"12\"; "
                            "client_max_window_bits=9\r\n") ==
        "permessage-deflate; server_max_window_bits=12");
  CHECK(negotiated(f, "/z", "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover\r\n") ==
        "permessage-deflate; client_no_context_takeover");
  // No context on this route: both sides are told so.
  CHECK(negotiated(f, "/z-alone", z_offer) == "permessage-deflate; server_no_context_takeover; client_no_context_takeover");
  // Declined (§7): unknown, repeated, out of range, a value where none belongs, 8 bits for us.
  for (const char* bad : {"permessage-deflate; foo", "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
                          "permessage-deflate; server_max_window_bits=16", "permessage-deflate; server_max_window_bits=08",
                          "permessage-deflate; server_max_window_bits", "permessage-deflate; client_max_window_bits=7",
                          "permessage-deflate; server_no_context_takeover=1", "permessage-deflate; server_max_window_bits=8",
                          "x-webkit-deflate-frame"}) {
    CAPTURE(bad);
    CHECK(negotiated(f, "/z", std::string("Sec-WebSocket-Extensions: ") + bad + "\r\n") == "(none)");
  }
  // The first acceptable z_offer wins, in one header or across several.
  CHECK(negotiated(f, "/z", "Sec-WebSocket-Extensions: permessage-deflate; foo=1, permessage-deflate; "
                            "server_max_window_bits=11\r\n") == "permessage-deflate; server_max_window_bits=11");
  CHECK(negotiated(f, "/z", "Sec-WebSocket-Extensions: foo\r\nSec-WebSocket-Extensions: permessage-deflate\r\n") ==
        "permessage-deflate");
}

TEST_CASE("ws deflate: compressed text and binary are echoed compressed; short messages plain") {
  zfixture f;
  auto ws = open_z(f);
  zstream out(true), in(false);
  for (int op : {1, 2, 1}) {
    const std::string m = z_sample(op == 1 ? 3000 : 500);
    ws->send(make_frame(op, out.compress(m), true, true, 0x40));
    const frame e = ws->read_frame();
    REQUIRE(e.op == op);
    CHECK(e.rsv == 0x40);
    CHECK(e.payload.size() < m.size() / 2);
    CHECK(in.inflate_message(e.payload) == m);
  }
  // Under deflate_min_bytes (64): sent as is, RSV1 clear; a plain message from the client too.
  ws->send(make_frame(1, out.compress("hi"), true, true, 0x40));
  const frame e = ws->read_frame();
  CHECK(e.rsv == 0);
  CHECK(e.payload == "hi");
  ws->send(make_frame(1, "plain text"));
  const frame p = ws->read_frame();
  CHECK(p.rsv == 0);
  CHECK(p.payload == "plain text");
}

TEST_CASE("ws deflate: a fragmented compressed message (RSV1 on its first frame only)") {
  zfixture f;
  auto ws = open_z(f);
  zstream out(true), in(false);
  const std::string m = z_sample(5000);
  const std::string z = out.compress(m);
  const std::size_t a = z.size() / 3, b = 2 * z.size() / 3;
  ws->send(make_frame(1, z.substr(0, a), false, true, 0x40));
  ws->send(make_frame(9, "ping"));  // a control frame between the fragments
  ws->send_bytewise(make_frame(0, z.substr(a, b - a), false));
  ws->send(make_frame(0, z.substr(b), true));
  frame e = ws->read_frame();
  CHECK(e.op == 10);
  e = ws->read_frame();
  REQUIRE(e.op == 1);
  CHECK(in.inflate_message(e.payload) == m);
}

TEST_CASE("ws deflate: context takeover shrinks a repeat; without it each message stands alone") {
  zfixture f;
  const std::string m = z_sample(2000);
  {
    auto ws = open_z(f);
    zstream out(true), in(false);
    std::size_t sizes[2];
    for (auto& size : sizes) {
      ws->send(make_frame(1, out.compress(m), true, true, 0x40));  // the client keeps its context too
      const frame e = ws->read_frame();
      REQUIRE(e.op == 1);
      size = e.payload.size();
      CHECK(in.inflate_message(e.payload) == m);
    }
    CHECK(sizes[1] < sizes[0] / 4);  // the second refers back to the first
  }
  {
    auto ws = open_z(f, "/z-alone");
    std::string frames[2];
    for (auto& payload : frames) {
      zstream out(true);  // client_no_context_takeover: a fresh stream per message
      ws->send(make_frame(1, out.compress(m), true, true, 0x40));
      const frame e = ws->read_frame();
      REQUIRE(e.op == 1);
      payload = e.payload;
      zstream in(false);  // each inflates alone
      CHECK(in.inflate_message(e.payload) == m);
    }
    CHECK(frames[0] == frames[1]);
  }
}

TEST_CASE("ws deflate: RSV1 on a continuation or a control frame, or unnegotiated, is 1002") {
  zfixture f;
  zstream out(true);
  {
    auto ws = open_z(f);
    ws->send(make_frame(1, out.compress(z_sample(100)).substr(0, 10), false, true, 0x40));
    ws->send(make_frame(0, "x", true, true, 0x40));
    z_expect_close(*ws, 1002);
  }
  {
    auto ws = open_z(f);
    ws->send(make_frame(9, "p", true, true, 0x40));
    z_expect_close(*ws, 1002);
  }
  {
    raw_ws ws(f.srv.port());
    REQUIRE(ws.handshake("/z").starts_with("HTTP/1.1 101 "));  // no z_offer: no extension
    ws.send(make_frame(1, zstream(true).compress(z_sample(100)), true, true, 0x40));
    z_expect_close(ws, 1002);
  }
  {
    auto ws = open_z(f);
    ws->send(make_frame(1, zstream(true).compress(z_sample(100)), true, true, 0x20));  // RSV2
    z_expect_close(*ws, 1002);
  }
}

TEST_CASE("ws deflate: bad compressed data is 1007, invalid UTF-8 inside is 1007, a zip bomb is 1009") {
  zfixture f;
  {
    auto ws = open_z(f);
    ws->send(make_frame(2, std::string("\xff\xff\xff\xff garbage", 13), true, true, 0x40));
    z_expect_close(*ws, 1007);
  }
  {
    auto ws = open_z(f);
    ws->send(make_frame(1, zstream(true).compress("valid prefix \xc3\x28 then bad"), true, true, 0x40));
    z_expect_close(*ws, 1007);
  }
  {
    // 10 MB of zeros compress to about 10 KB: inflated only to the route's 100,000 bytes.
    auto ws = open_z(f);
    const std::string bomb = zstream(true).compress(std::string(10'000'000, '\0'));
    CHECK(bomb.size() < 20'000);
    ws->send(make_frame(2, bomb, true, true, 0x40));
    z_expect_close(*ws, 1009);
  }
  {
    // Just under the limit passes.
    auto ws = open_z(f);
    zstream in(false);
    ws->send(make_frame(2, zstream(true).compress(std::string(99'000, 'a')), true, true, 0x40));
    const frame e = ws->read_frame();
    REQUIRE(e.op == 2);
    CHECK(in.inflate_message(e.payload) == std::string(99'000, 'a'));
  }
}

TEST_CASE("ws deflate: a publish reaches deflate and plain subscribers alike") {
  zfixture f;
  auto shared1 = open_z(f, "/news-z");
  auto shared2 = open_z(f, "/news-z");
  auto own = open_z(f, "/news-own");
  auto plain = std::make_unique<raw_ws>(f.srv.port());
  REQUIRE(plain->handshake("/news").starts_with("HTTP/1.1 101 "));
  // Every subscriber is in once the publisher's own echo of a first message arrives.
  const std::string m = z_sample(1500);
  plain->send(make_frame(1, m));
  zstream own_in(false);
  for (int round = 0; round < 2; ++round) {
    if (round == 1) plain->send(make_frame(1, m));
    const frame a = shared1->read_frame(), b = shared2->read_frame(), c = own->read_frame(), d = plain->read_frame();
    REQUIRE(a.op == 1);
    REQUIRE(b.op == 1);
    REQUIRE(c.op == 1);
    REQUIRE(d.op == 1);
    CHECK(a.rsv == 0x40);
    CHECK(a.payload == b.payload);  // compressed once, the same bytes for both
    CHECK(zstream(false).inflate_message(a.payload) == m);
    CHECK(c.rsv == 0x40);
    CHECK(own_in.inflate_message(c.payload) == m);  // its own context, across rounds
    CHECK(d.rsv == 0);
    CHECK(d.payload == m);
  }
}

// The codec itself, where a client's peculiar but valid streams meet ours.
TEST_CASE("ws deflate codec: empty messages with context takeover, final blocks, an empty payload") {
  using hive::detail::inflate_result;
  hive::detail::ws_deflater out(15);
  hive::detail::ws_inflater in(15);
  // Empty messages between others, context kept: each payload must inflate on its own stream
  // position (zlib writes nothing for a second flush; the payload is then the single 0x00 byte).
  for (const std::string msg : {"hello hello hello", "", "", "world world", "", "x"}) {
    std::string payload, back;
    REQUIRE(out.compress(msg, payload, false));
    CHECK_FALSE(payload.empty());
    CHECK(in.inflate_message(payload, back, 1 << 20, false) == inflate_result::ok);
    CHECK(back == msg);
  }
  // A sender that ends each message with a final block (Z_FINISH, BFINAL set; RFC 7692 §7.2.3.2)
  // and starts a new stream for the next one: the tail is not added after the final block.
  hive::detail::ws_inflater keep(15);
  for (const std::string msg : {"first message first", "second message second"}) {
    z_stream z;
    std::memset(&z, 0, sizeof z);
    REQUIRE(deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    std::string payload(256, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(msg.data()));
    z.avail_in = static_cast<uInt>(msg.size());
    z.next_out = reinterpret_cast<Bytef*>(payload.data());
    z.avail_out = static_cast<uInt>(payload.size());
    REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
    payload.resize(payload.size() - z.avail_out);
    deflateEnd(&z);
    std::string back;
    CHECK(keep.inflate_message(payload, back, 1 << 20, false) == inflate_result::ok);
    CHECK(back == msg);
  }
  // An empty payload (not what a compliant sender sends, but harmless) is an empty message and
  // leaves the stream ready for the next.
  std::string back = "stale";
  CHECK(keep.inflate_message("", back, 1 << 20, false) == inflate_result::ok);
  CHECK(back.empty());
  std::string payload;
  hive::detail::ws_deflater own(15);
  REQUIRE(own.compress("after the empty one", payload, false));
  hive::detail::ws_inflater fresh2(15);
  CHECK(fresh2.inflate_message("", back, 1 << 20, false) == inflate_result::ok);
  CHECK(fresh2.inflate_message(payload, back, 1 << 20, false) == inflate_result::ok);
  CHECK(back == "after the empty one");
}

TEST_CASE("ws deflate: zlib streams count against the worker's budgets; past them connections are shed") {
  // Each connection with context takeover holds an inflater (about 39 KiB) and, once it answers
  // compressed, a deflater (about 268 KiB). With a 2 MiB output budget, 16 of them cannot all stay.
  hive::options o;
  o.max_worker_output_bytes = 2 * 1024 * 1024;
  hive::app app = wsdeflate::z_make_app();
  hive::test::test_server srv{app, o};
  std::vector<std::unique_ptr<raw_ws>> conns;
  const std::string m = wsdeflate::z_sample(3000);
  for (int i = 0; i < 16; ++i) {
    auto ws = std::make_unique<raw_ws>(srv.port());
    REQUIRE(ws->handshake("/z", wsdeflate::z_offer).starts_with("HTTP/1.1 101 "));
    wsdeflate::zstream out(true);
    ws->send(make_frame(1, out.compress(m), true, true, 0x40));
    const frame e = ws->read_frame();
    REQUIRE(e.op == 1);  // each is answered (compressed) before the next opens
    conns.push_back(std::move(ws));
  }
  // The oldest were closed as the newest pushed the total past the budget.
  int open = 0;
  for (auto& ws : conns) {
    ws->send(make_frame(1, "still there?"));
    const frame e = ws->read_frame();
    if (e.op == 1) ++open;
  }
  MESSAGE(open, " of 16 connections with their own zlib streams left open under a 2 MiB output budget");
  CHECK(open < 16);
  CHECK(open >= 4);
  CHECK(open <= 8);
  // The worker goes on serving: a fresh connection is echoed.
  auto fresh = std::make_unique<raw_ws>(srv.port());
  REQUIRE(fresh->handshake("/plain").starts_with("HTTP/1.1 101 "));
  fresh->send(make_frame(1, "hello"));
  CHECK(fresh->read_frame().payload == "hello");
}

// The session's seams for what comes after a buffered answer: streamed response bodies, request
// bodies delivered as they arrive, and the hand-off to another protocol after a 101.
#include <doctest/doctest.h>

#include <stdexcept>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <hive/hive.hpp>

#include "app/app_dispatcher.hpp"
#include "http/date_cache.hpp"
#include "http/session.hpp"
#include "support/http_reader.hpp"
#include "support/shout_protocol.hpp"
#include "unit/output_text.hpp"

namespace protocol_seams {

using hive::detail::finished_record;
using hive::detail::origin;
using hive::detail::protocol;

std::vector<hive::stream> open_streams;
std::vector<hive::deferred> held_answers;

const hive::app& stream_app() {
  static const hive::app a = [] {
    hive::app app;
    app.get("/parts", [](const hive::request&, hive::response& res) {
      res.header("X-Kind", "parts");
      auto s = res.stream("text/plain");
      s.write("one,");
      s.write("two,");
      open_streams.push_back(s);  // ended later by the test
    });
    app.get("/whole", [](const hive::request&, hive::response& res) {
      auto s = res.stream();
      s.write("all at once");
      s.end();
    });
    app.get("/no-content", [](const hive::request&, hive::response& res) {
      res.status(204);
      auto s = res.stream();
      CHECK(!s.write("dropped") == false);  // accepted (nothing is queued for a 204)
      s.end();
    });
    app.get("/dropped", [](const hive::request&, hive::response& res) {
      auto s = res.stream();
      s.write("half");
    });
    app.get("/throws", [](const hive::request&, hive::response& res) {
      auto s = res.stream();
      s.write("before");
      open_streams.push_back(s);
      throw std::runtime_error("after the head");
    });
    app.get("/big", [](const hive::request&, hive::response& res) {
      auto s = res.stream();
      int written = 0;
      while (s.write(std::string(16 * 1024, 'x'))) ++written;
      CHECK(written >= 2);  // 64 KiB is the high-water mark
      CHECK(written < 8);
      open_streams.push_back(s);
    });
    app.get("/later", [](const hive::request&, hive::response& res) { held_answers.push_back(res.defer()); });
    app.get("/hello", [](const hive::request&, hive::response& res) { res.text("Hello"); });
    app.post("/echo", [](const hive::request& req, hive::response& res) { res.body(req.body()); });
    app.get("/drop-then-defer", [](const hive::request&, hive::response& res) {
      { auto dropped = res.defer(); }  // 500
      held_answers.push_back(res.defer());  // refused: the answer is decided
    });
    app.get("/local-throws", [](const hive::request&, hive::response& res) {
      auto s = res.stream();
      s.write("x");
      throw std::runtime_error("with only a local handle");
    });
    return app;
  }();
  return a;
}

// The app's dispatcher plus what these tests plug in: a route whose body open_streams, an upgrade.
class proto_side final : public hive::detail::dispatcher {
 public:
  explicit proto_side(const hive::app& a) : inner_(a, nullptr) {}
  bool route(std::string_view m, std::string_view p, hive::detail::route_state& r) const override {
    if (p == "/upload") {
      r.target = nullptr;
      r.status = 200;
      r.stream_body = true;
      return true;
    }
    return inner_.route(m, p, r);
  }
  bool body_data(hive::detail::route_state&, std::string_view bytes) override {
    received.append(bytes);
    ++pieces;
    return true;
  }
  std::unique_ptr<protocol> upgrade(const hive::request& req, hive::response& res,
                                    const hive::detail::route_state& r) override;
  void handle(const hive::request& req, hive::response& res, const hive::detail::route_state& r) const override {
    if (req.path() == "/upload") {
      // Runs at the head: the answer waits for the body's end.
      auto done = res.defer();
      req.body_reader().on_end([this, done, body = req.body().size()](bool) mutable {
        done.finish([&](hive::response& r) {
          r.text("got " + std::to_string(received.size()) + " body " + std::to_string(body));
        });
      });
      return;
    }
    inner_.handle(req, res, r);
  }
  void hive_answer(int status, const hive::detail::route_state* r, hive::response& res) const override {
    inner_.hive_answer(status, r, res);
  }
  void finished(const finished_record& rec) override { records.push_back(rec); }

  std::vector<finished_record> records;
  std::string received;
  int pieces = 0;
  int upgrades_offered = 0;

 private:
  hive::detail::app_dispatcher inner_;
};

std::unique_ptr<protocol> proto_side::upgrade(const hive::request& req, hive::response& res,
                                        const hive::detail::route_state& r) {
  ++upgrades_offered;
  if (req.path() == "/shout-throws") throw std::runtime_error("no");
  if (req.path() == "/shout-defers") (void)res.defer();
  if (req.path() != "/shout" || req.header("Upgrade") != std::optional<std::string_view>("shout")) {
    return inner_.upgrade(req, res, r);
  }
  res.header("Upgrade", "shout");
  return std::make_unique<hive::test::shout>();
}

struct proto_rig {
  proto_rig() : d(stream_app()) {
    date.refresh(784111777);
    cfg.date = &date;
    s = std::make_unique<hive::detail::session>(d, cfg, pool, inputs);
  }
  void feed(std::string_view bytes) {
    s->feed(bytes);
    take();
  }
  void take() {
    while (hive::test::take_output(*s, out) != 0) {
    }
  }
  proto_side d;
  hive::detail::date_cache date{"hive"};
  hive::detail::buffer_pool pool;
  hive::detail::input_pool inputs;
  hive::detail::session_config cfg;
  std::unique_ptr<hive::detail::session> s;
  std::string out;
};

}  // namespace protocol_seams

using namespace protocol_seams;

TEST_CASE("stream: parts go out in chunks as written; end() lets the pipeline go on") {
  open_streams.clear();
  proto_rig r;
  r.feed("GET /parts HTTP/1.1\r\nHost: h\r\n\r\nGET /hello HTTP/1.1\r\nHost: h\r\n\r\n");
  REQUIRE(open_streams.size() == 1);
  CHECK(r.out.find("Transfer-Encoding: chunked\r\n") != std::string::npos);
  CHECK(r.out.find("Content-Length") == std::string::npos);
  CHECK(r.out.find("X-Kind: parts\r\n") != std::string::npos);
  CHECK(r.out.ends_with("\r\n\r\n4\r\none,\r\n4\r\ntwo,\r\n"));
  CHECK(r.s->current() == hive::detail::session::state::streaming);
  CHECK(r.d.records.empty());  // finished only once it ends
  CHECK(open_streams[0].write("three"));
  open_streams[0].end();
  CHECK(!open_streams[0].open());
  CHECK(!open_streams[0].write("late"));
  r.take();
  r.s->resume();  // what the connection's wake does from its loop
  r.take();
  const auto got = hive::test::read_responses(r.out);
  REQUIRE(got.responses.size() == 2);
  CHECK(got.responses[0].body == "one,two,three");
  CHECK(got.responses[0].header("Content-Type") == "text/plain");
  CHECK(got.responses[1].body == "Hello");
  REQUIRE(r.d.records.size() == 2);
  CHECK(r.d.records[0].status == 200);
  CHECK(r.d.records[0].by == origin::handler);
  CHECK(r.d.records[0].bytes_out == r.out.find("HTTP/1.1 200", 1));  // head and every chunk
  open_streams.clear();
}

TEST_CASE("stream: trailers follow the last chunk; bad ones throw and leave the stream open") {
  open_streams.clear();
  proto_rig r;
  r.feed("GET /parts HTTP/1.1\r\nHost: h\r\n\r\nGET /hello HTTP/1.1\r\nHost: h\r\n\r\n");
  REQUIRE(open_streams.size() == 1);
  CHECK_THROWS_AS(open_streams[0].end({{"Content-Length", "3"}}), std::invalid_argument);
  CHECK_THROWS_AS(open_streams[0].end({{"X-Sum", "a\r\nInjected: 1"}}), std::invalid_argument);
  CHECK_THROWS_AS(open_streams[0].end({{"Bad Name", "1"}}), std::invalid_argument);
  CHECK(open_streams[0].open());
  open_streams[0].end({{"X-Sum", "abc"}, {"X-Count", "2"}});
  r.take();
  r.s->resume();
  r.take();
  CHECK(r.out.find("4\r\ntwo,\r\n0\r\nX-Sum: abc\r\nX-Count: 2\r\n\r\nHTTP/1.1 200") != std::string::npos);
  const auto got = hive::test::read_responses(r.out);
  REQUIRE(got.responses.size() == 2);
  CHECK(got.responses[0].body == "one,two,");
  CHECK(got.responses[1].body == "Hello");
  open_streams.clear();
}

TEST_CASE("stream: HTTP/1.0 gets the body delimited by the close; HEAD and 204 get no body") {
  SUBCASE("1.0") {
    proto_rig r;
    r.feed("GET /whole HTTP/1.0\r\n\r\n");
    CHECK(r.out.find("Transfer-Encoding") == std::string::npos);
    CHECK(r.out.find("Connection: close\r\n") != std::string::npos);
    CHECK(r.out.ends_with("\r\n\r\nall at once"));
    CHECK(hive::test::done(*r.s));
  }
  SUBCASE("HEAD") {
    proto_rig r;
    r.feed("HEAD /whole HTTP/1.1\r\nHost: h\r\n\r\nGET /hello HTTP/1.1\r\nHost: h\r\n\r\n");
    r.s->resume();
    r.take();
    const auto got = hive::test::read_responses(r.out, {true, false});
    REQUIRE(got.responses.size() == 2);
    CHECK(got.responses[0].body.empty());
    CHECK(got.responses[1].body == "Hello");
    CHECK(r.out.find("all at once") == std::string::npos);
  }
  SUBCASE("204") {
    proto_rig r;
    r.feed("GET /no-content HTTP/1.1\r\nHost: h\r\n\r\n");
    const auto got = hive::test::read_responses(r.out);
    REQUIRE(got.responses.size() == 1);
    CHECK(got.responses[0].status == 204);
    CHECK(r.out.find("dropped") == std::string::npos);
    CHECK(r.out.find("Transfer-Encoding") == std::string::npos);
  }
}

TEST_CASE("stream: dropped without end(), or a handler that throws after the head, cuts the body") {
  open_streams.clear();
  SUBCASE("dropped") {
    proto_rig r;
    r.feed("GET /dropped HTTP/1.1\r\nHost: h\r\n\r\nGET /hello HTTP/1.1\r\nHost: h\r\n\r\n");
    CHECK(r.out.ends_with("4\r\nhalf\r\n"));  // no last chunk: the client sees it incomplete
    CHECK(hive::test::done(*r.s));
    REQUIRE(r.d.records.size() == 1);
  }
  SUBCASE("throws") {
    proto_rig r;
    r.feed("GET /throws HTTP/1.1\r\nHost: h\r\n\r\n");
    CHECK(r.out.ends_with("6\r\nbefore\r\n"));
    CHECK(r.out.find("500") == std::string::npos);
    CHECK(hive::test::done(*r.s));
    REQUIRE(open_streams.size() == 1);
    CHECK(!open_streams[0].open());
  }
  open_streams.clear();
}

TEST_CASE("stream: write() says when to wait; on_drain says when to go on") {
  open_streams.clear();
  proto_rig r;
  r.s->feed("GET /big HTTP/1.1\r\nHost: h\r\n\r\n");  // nothing taken: the output stays queued
  REQUIRE(open_streams.size() == 1);
  int drained = 0;
  auto s = open_streams[0];
  s.on_drain([&] {
    ++drained;
    s.write("tail");
    s.end();
  });
  CHECK(drained == 0);
  r.take();  // the client reads everything: on_drain runs once, from consume()
  r.take();
  CHECK(drained == 1);
  const auto got = hive::test::read_responses(r.out);
  REQUIRE(got.responses.size() == 1);
  CHECK(got.responses[0].body.ends_with("xtail"));
  open_streams.clear();
}

TEST_CASE("stream: a client that goes away closes the stream and runs on_close once") {
  open_streams.clear();
  proto_rig r;
  r.feed("GET /parts HTTP/1.1\r\nHost: h\r\n\r\n");
  REQUIRE(open_streams.size() == 1);
  int closed = 0;
  open_streams[0].on_close([&] { ++closed; });
  r.s->on_eof();  // nothing pipelined behind it: the client is gone
  CHECK(closed == 1);
  CHECK(!open_streams[0].open());
  CHECK(!open_streams[0].write("nobody"));
  open_streams[0].end();
  CHECK(closed == 1);
  REQUIRE(r.d.records.size() == 1);  // reported once, cut short
  CHECK(hive::test::done(*r.s));
  open_streams.clear();
}

TEST_CASE("stream: a deferred answer may turn into a stream") {
  held_answers.clear();
  open_streams.clear();
  proto_rig r;
  r.feed("GET /later HTTP/1.1\r\nHost: h\r\n\r\nGET /hello HTTP/1.1\r\nHost: h\r\n\r\n");
  REQUIRE(held_answers.size() == 1);
  CHECK(r.out.empty());
  CHECK(held_answers[0].finish([](hive::response& res) {
    auto s = res.stream();
    s.write("late ");
    open_streams.push_back(s);
  }));
  CHECK(!held_answers[0].pending());  // the stream answers now, not the handle
  REQUIRE(open_streams.size() == 1);
  open_streams[0].write("parts");
  open_streams[0].end();
  r.take();
  r.s->resume();
  r.take();
  const auto got = hive::test::read_responses(r.out);
  REQUIRE(got.responses.size() == 2);
  CHECK(got.responses[0].body == "late parts");
  CHECK(got.responses[1].body == "Hello");
  CHECK(r.d.records.size() == 2);
  held_answers.clear();
  open_streams.clear();
}

TEST_CASE("body data: a route that open_streams its body gets it as it arrives, whatever the split") {
  const std::string chunked =
      "POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n";
  const std::string sized = "POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\n\r\nhello, world";
  for (const auto& request : {chunked, sized}) {
    proto_rig whole;
    whole.feed(request);
    CHECK(whole.d.received == "hello, world");
    proto_rig split;
    for (char c : request) split.feed(std::string_view(&c, 1));
    CHECK(split.d.received == "hello, world");
    CHECK(split.d.pieces >= 12);  // one piece per byte read, never held_answers back
    for (auto* r : {&whole, &split}) {
      const auto got = hive::test::read_responses(r->out);
      REQUIRE(got.responses.size() == 1);
      CHECK(got.responses[0].body == "got 12 body 0");  // nothing buffered for request::body()
    }
  }
}

TEST_CASE("upgrade: a 101, then the successor takes the connection with the bytes read past the request") {
  proto_rig r;
  r.feed("GET /shout HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: shout\r\n\r\nhello");
  const auto got = hive::test::read_responses(r.out);
  REQUIRE(got.responses.size() == 1);
  CHECK(got.responses[0].status == 101);
  CHECK(got.responses[0].header("Upgrade") == "shout");
  CHECK(got.responses[0].header("Connection") == "upgrade");
  CHECK(got.rest.empty());  // nothing of "hello" was answered as HTTP
  REQUIRE(r.d.records.size() == 1);
  CHECK(r.d.records[0].status == 101);
  REQUIRE(r.s->step() == protocol::next::hand_off);
  auto next = r.s->successor();
  REQUIRE(next != nullptr);
  CHECK(r.s->current() == hive::detail::session::state::handed_off);
  std::string echoed;
  REQUIRE(next->output() != nullptr);
  iovec iov[4];
  hive::detail::output_queue::file_range f;
  const int n = next->output()->next(iov, 4, f);
  for (int i = 0; i < n; ++i) echoed.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
  CHECK(echoed == "HELLO");
}

TEST_CASE("upgrade: refused by the application, over HTTP/1.0, or to CONNECT: answered as HTTP, then closed") {
  SUBCASE("the application offers no protocol") {
    proto_rig r;
    r.feed("GET /hello HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: shout\r\n\r\n");
    CHECK(r.d.upgrades_offered == 1);
    const auto got = hive::test::read_responses(r.out);
    REQUIRE(got.responses.size() == 1);
    CHECK(got.responses[0].status == 200);
    CHECK(got.responses[0].body == "Hello");
    CHECK(got.responses[0].header("Connection") == "close");
    CHECK(hive::test::done(*r.s));
  }
  SUBCASE("HTTP/1.0 (RFC 9110 §7.8)") {
    proto_rig r;
    r.feed("GET /shout HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: shout\r\n\r\n");
    CHECK(r.d.upgrades_offered == 0);
    const auto got = hive::test::read_responses(r.out);
    REQUIRE(got.responses.size() == 1);
    CHECK(got.responses[0].status == 404);
  }
}

TEST_CASE("stream: requests pipelined while a stream is open leave its finished record intact") {
  open_streams.clear();
  proto_rig r;
  r.feed("GET /parts HTTP/1.1\r\nHost: h\r\n\r\n");
  REQUIRE(open_streams.size() == 1);
  // Enough to make the input buffer grow (and move) while the stream holds the pipeline.
  const std::string big(13000, 'z');
  r.feed("POST /" + big + " HTTP/1.1\r\nHost: h\r\nContent-Length: 2000\r\n\r\n" + std::string(1000, 'b'));
  open_streams[0].end();
  REQUIRE(r.d.records.size() == 1);
  CHECK(r.d.records[0].method == "GET");
  CHECK(r.d.records[0].target == "/parts");
  open_streams.clear();
}

TEST_CASE("stream: a handler that throws with only a local stream handle: cut once, reported once") {
  proto_rig r;
  r.feed("GET /local-throws HTTP/1.1\r\nHost: h\r\n\r\nGET /hello HTTP/1.1\r\nHost: h\r\n\r\n");
  CHECK(r.out.ends_with("1\r\nx\r\n"));
  CHECK(r.out.find("500") == std::string::npos);
  CHECK(r.d.records.size() == 1);
  CHECK(hive::test::done(*r.s));
}

TEST_CASE("stream: ending one while draining closes the connection after it") {
  open_streams.clear();
  proto_rig r;
  r.feed("GET /parts HTTP/1.1\r\nHost: h\r\n\r\n");
  REQUIRE(open_streams.size() == 1);
  r.s->drain();
  open_streams[0].end();
  r.take();
  CHECK(r.out.ends_with("0\r\n\r\n"));
  CHECK(hive::test::done(*r.s));
  open_streams.clear();
}

TEST_CASE("deferred: once a dropped handle made the answer a 500, defer() is refused; the next request is unharmed") {
  held_answers.clear();
  proto_rig r;
  r.feed("GET /drop-then-defer HTTP/1.1\r\nHost: h\r\n\r\nGET /later HTTP/1.1\r\nHost: h\r\n\r\n");
  REQUIRE(held_answers.size() == 1);  // only /later's
  CHECK(held_answers[0].pending());
  CHECK(held_answers[0].finish([](hive::response& res) { res.text("later"); }));
  r.take();
  const auto got = hive::test::read_responses(r.out);
  REQUIRE(got.responses.size() == 2);
  CHECK(got.responses[0].status == 500);
  CHECK(got.responses[1].body == "later");
  held_answers.clear();
}

TEST_CASE("upgrade: the client's EOF read before the hand-off reaches the successor") {
  held_answers.clear();
  proto_rig r;
  r.feed("GET /later HTTP/1.1\r\nHost: h\r\n\r\n"
         "GET /shout HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: shout\r\n\r\nbye");
  r.s->on_eof();  // complete requests are unread: they are still answered
  REQUIRE(held_answers.size() == 1);
  held_answers[0].finish([](hive::response& res) { res.text("first"); });
  r.take();
  r.s->resume();
  r.take();
  REQUIRE(r.s->step() == protocol::next::hand_off);
  auto next = r.s->successor();
  REQUIRE(next != nullptr);
  CHECK(next->output() != nullptr);  // "BYE"
  CHECK(next->step() == protocol::next::close);
  held_answers.clear();
}

TEST_CASE("upgrade: an application that throws, or tries to defer the 101, gets a 500") {
  for (const char* path : {"/shout-throws", "/shout-defers"}) {
    proto_rig r;
    r.feed(std::string("GET ") + path + " HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: shout\r\n\r\n");
    const auto got = hive::test::read_responses(r.out);
    REQUIRE(got.responses.size() == 1);
    CHECK(got.responses[0].status == 500);
    CHECK(hive::test::done(*r.s));
  }
}

TEST_CASE("held: what a session reports to the worker's budgets is what its client made it hold") {
  proto_rig r;
  const std::string big(200 * 1000, 'b');
  r.s->feed("POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 200000\r\n\r\n" + big);
  auto held = r.s->held();
  CHECK(held.input >= big.size());   // the body received
  CHECK(held.output >= big.size());  // its copy, queued
  r.take();
  held = r.s->held();
  CHECK(held.input == 0);  // between requests: nothing
  CHECK(held.output == 0);
  // The pooled buffers kept capacity from the large request; a new partial request on them is
  // not charged for it.
  r.s->feed("GET /hello HT");
  held = r.s->held();
  CHECK(held.input < 64 * 1024);
  CHECK(held.output == 0);
}

TEST_CASE("stream: a graceful stop tells an open stream once (on_stop); one started during it at once") {
  open_streams.clear();
  proto_rig r;
  r.feed("GET /parts HTTP/1.1\r\nHost: h\r\n\r\n");
  REQUIRE(open_streams.size() == 1);
  int stops = 0;
  auto s = open_streams[0];
  s.on_stop([&] {
    ++stops;
    s.write("bye");
    s.end();
  });
  r.s->drain();
  r.s->drain();
  CHECK(stops == 1);
  r.take();
  CHECK(r.out.ends_with("3\r\nbye\r\n0\r\n\r\n"));
  CHECK(hive::test::done(*r.s));

  proto_rig late;
  late.s->drain();
  late.feed("GET /parts HTTP/1.1\r\nHost: h\r\n\r\n");
  REQUIRE(open_streams.size() == 2);
  int late_stops = 0;
  open_streams[1].on_stop([&] { ++late_stops; });
  CHECK(late_stops == 1);
  open_streams.clear();
}

// The seams between the HTTP session and the application: the dispatcher's finished point, the
// response as a value, drains that answer every pipelined request, peers and trusted proxies,
// and a deferred response whose client goes away.
#include <doctest/doctest.h>

#include <stdexcept>
#include <vector>

#include "app/app_dispatcher.hpp"
#include "http/date_cache.hpp"
#include "http/session.hpp"
#include "support/http_reader.hpp"
#include "unit/output_text.hpp"
#include "util/cidr.hpp"

namespace seams {

using hive::detail::finished_record;
using hive::detail::origin;

// The app's dispatcher, recording every finished response.
class recording final : public hive::detail::dispatcher {
 public:
  explicit recording(const hive::app& a) : inner_(a, nullptr) {}
  bool route(std::string_view m, std::string_view p, hive::detail::route_state& r) const override {
    return inner_.route(m, p, r);
  }
  void handle(const hive::request& req, hive::response& res, const hive::detail::route_state& r) const override {
    inner_.handle(req, res, r);
  }
  bool body_data(hive::detail::route_state& r, std::string_view bytes) override { return inner_.body_data(r, bytes); }
  std::unique_ptr<hive::detail::protocol> upgrade(const hive::request& req, hive::response& res,
                                                  const hive::detail::route_state& r) override {
    return inner_.upgrade(req, res, r);
  }
  void hive_answer(int status, const hive::detail::route_state* r, hive::response& res) const override {
    inner_.hive_answer(status, r, res);
  }
  void finished(const finished_record& rec) override {
    records.push_back(rec);
    methods.emplace_back(rec.method);
  }
  std::vector<finished_record> records;
  std::vector<std::string> methods;

 private:
  hive::detail::app_dispatcher inner_;
};

struct rig {
  explicit rig(const hive::app& a) : d(a) {
    date.refresh(784111777);
    cfg.date = &date;
    cfg.now_ms = &now;
    cfg.trusted_proxies = &trusted;
    s = std::make_unique<hive::detail::session>(d, cfg, pool, inputs);
    s->set_peer(&peer);
  }
  void feed(std::string_view bytes) {
    s->feed(bytes);
    while (hive::test::take_output(*s, out) != 0) {
    }
  }
  recording d;
  hive::detail::date_cache date{"hive"};
  std::int64_t now = 1000;
  hive::detail::cidr_set trusted{std::vector<std::string>{"10.0.0.0/8"}};
  hive::address peer;
  hive::detail::buffer_pool pool;
  hive::detail::input_pool inputs;
  hive::detail::session_config cfg;
  std::unique_ptr<hive::detail::session> s;
  std::string out;
};

std::vector<hive::deferred> held;

const hive::app& seams_app() {
  static const hive::app a = [] {
    hive::app app;
    app.get("/a", [](const hive::request&, hive::response& res) { res.text("A"); });
    app.get("/throw", [](const hive::request&, hive::response&) { throw std::runtime_error("x"); });
    app.get("/later", [](const hive::request&, hive::response& res) { held.push_back(res.defer()); });
    app.get("/drop", [](const hive::request&, hive::response& res) { (void)res.defer(); });
    app.get("/who", [](const hive::request& req, hive::response& res) {
      res.text(req.remote_address().ip() + " " + req.client_address().ip());
    });
    app.get("/ref", [](const hive::request&, hive::response& res) {
      static const char data[] = "static bytes";
      res.body_ref({data, sizeof data - 1}, {}, "text/x-ref");
    });
    return app;
  }();
  return a;
}

hive::address v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d, std::uint16_t port) {
  hive::address x;
  x.bytes[10] = x.bytes[11] = 0xff;
  x.bytes[12] = a;
  x.bytes[13] = b;
  x.bytes[14] = c;
  x.bytes[15] = d;
  x.port = port;
  return x;
}

}  // namespace seams

using namespace seams;

TEST_CASE("seams: every response passes the finished point once, with its status, origin and sizes") {
  rig r(seams_app());
  const std::string reqs[] = {
      "GET /a HTTP/1.1\r\nHost: h\r\n\r\n",
      "GET /missing HTTP/1.1\r\nHost: h\r\n\r\n",
      "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nxy",
      "GET /throw HTTP/1.1\r\nHost: h\r\n\r\n",
      "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
      "GET /a HTTP/1.1\r\n\r\n",  // no Host: refused with 400, and counted
  };
  std::string all;
  for (const auto& q : reqs) all += q;
  r.feed(all);
  const auto res = hive::test::read_responses(r.out);
  REQUIRE(res.responses.size() == 6);
  REQUIRE(r.d.records.size() == 6);
  const int statuses[] = {200, 404, 405, 500, 200, 400};
  const origin by[] = {origin::handler, origin::hive, origin::hive, origin::hive, origin::hive, origin::hive};
  std::uint64_t out_total = 0, in_total = 0;
  for (std::size_t i = 0; i < 6; ++i) {
    CHECK(r.d.records[i].status == statuses[i]);
    CHECK(res.responses[i].status == statuses[i]);
    CHECK(r.d.records[i].by == by[i]);
    CHECK(r.d.records[i].bytes_in == reqs[i].size());
    CHECK(r.d.records[i].peer == &r.peer);
    out_total += r.d.records[i].bytes_out;
    in_total += r.d.records[i].bytes_in;
  }
  CHECK(out_total == r.out.size());
  CHECK(in_total == all.size());
  CHECK(r.d.methods[0] == "GET");
  CHECK(r.d.methods[2] == "POST");
  CHECK(r.d.methods[5].empty());  // nothing of a refused request is trusted
  CHECK(res.responses[2].header("Allow") == "GET, HEAD");
}

TEST_CASE("seams: a deferred response is finished once, when it is answered; a dropped one as a 500") {
  held.clear();
  rig r(seams_app());
  r.feed("GET /later HTTP/1.1\r\nHost: h\r\n\r\nGET /later HTTP/1.1\r\nHost: h\r\n\r\n");
  CHECK(r.d.records.empty());
  REQUIRE(held.size() == 1);
  r.now = 1500;
  CHECK(held[0].finish([](hive::response& res) { res.text("done"); }));
  REQUIRE(r.d.records.size() == 1);
  CHECK(r.d.records[0].status == 200);
  CHECK(r.d.records[0].by == origin::handler);
  CHECK(r.d.records[0].start_ms == 1000);
  CHECK(r.d.records[0].end_ms == 1500);
  while (hive::test::take_output(*r.s, r.out) != 0) {
  }
  REQUIRE(held.size() == 2);
  held.clear();  // the second handle dropped unfinished
  REQUIRE(r.d.records.size() == 2);
  CHECK(r.d.records[1].status == 500);
  CHECK(r.d.records[1].by == origin::hive);
}

TEST_CASE("seams: a client that goes away leaves its deferred handle not pending, and on_close runs") {
  held.clear();
  rig r(seams_app());
  r.feed("GET /later HTTP/1.1\r\nHost: h\r\n\r\n");
  REQUIRE(held.size() == 1);
  int closed = 0;
  held[0].on_close([&] { ++closed; });
  CHECK(held[0].pending());
  CHECK(r.s->current() == hive::detail::session::state::awaiting);
  r.s->peer_gone();
  CHECK(!held[0].pending());
  CHECK(closed == 1);
  CHECK(!held[0].finish([](hive::response& res) { res.text("late"); }));
  CHECK(hive::test::done(*r.s));
  held.clear();
  CHECK(closed == 1);
  CHECK(r.d.records.empty());  // nothing was answered
}

TEST_CASE("seams: draining answers every complete pipelined request, the last with Connection: close") {
  rig r(seams_app());
  r.s->drain();
  std::string eight;
  for (int i = 0; i < 8; ++i) eight += "GET /a HTTP/1.1\r\nHost: h\r\n\r\n";
  r.feed(eight);
  const auto res = hive::test::read_responses(r.out);
  REQUIRE(res.responses.size() == 8);
  for (int i = 0; i < 7; ++i) CHECK(!res.responses[i].header("Connection"));
  CHECK(res.responses[7].header("Connection") == "close");
  CHECK(hive::test::done(*r.s));
}

TEST_CASE("seams: remote_address is the peer; client_address believes only trusted proxies") {
  rig r(seams_app());
  r.peer = v4(10, 1, 2, 3, 40000);  // trusted (10.0.0.0/8)
  r.feed("GET /who HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 203.0.113.9, 10.9.9.9\r\n\r\n");
  r.feed("GET /who HTTP/1.1\r\nHost: h\r\nForwarded: for=\"[2001:db8::1]:80\";proto=https\r\n\r\n");
  auto res = hive::test::read_responses(r.out);
  REQUIRE(res.responses.size() == 2);
  CHECK(res.responses[0].body == "10.1.2.3 203.0.113.9");
  CHECK(res.responses[1].body == "10.1.2.3 2001:db8::1");

  rig u(seams_app());
  u.peer = v4(198, 51, 100, 7, 1234);  // not trusted: its header is not believed
  u.feed("GET /who HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 203.0.113.9\r\n\r\n");
  res = hive::test::read_responses(u.out);
  REQUIRE(res.responses.size() == 1);
  CHECK(res.responses[0].body == "198.51.100.7 198.51.100.7");
}

TEST_CASE("seams: a response is a plain value") {
  hive::response res;  // not handed out by hive: everything but defer() works
  res.status(201).header("X-A", "1").text("hello");
  CHECK(res.status() == 201);
  CHECK(res.body_bytes() == "hello");
  CHECK(res.content_type() == "text/plain; charset=utf-8");
  CHECK(res.fields() == "X-A: 1\r\n");
  CHECK_THROWS_AS(res.defer(), std::logic_error);
  // hive decides persistence: only `close` may be asked for.
  CHECK_THROWS_AS(res.header("Connection", "keep-alive"), std::invalid_argument);
  CHECK_THROWS_AS(res.header("Connection", "upgrade"), std::invalid_argument);
  CHECK(!res.closes());
  res.header("Connection", "close");
  CHECK(res.closes());
  res.header("Content-Type", "text/html");
  res.text("<p>");
  CHECK(res.content_type() == "text/html");
  // A type passed on from a client cannot split the head.
  CHECK_THROWS_AS(res.body("x", "text/plain\r\nSet-Cookie: a=b"), std::invalid_argument);
  CHECK_THROWS_AS(res.header("Content-Type", "a\rb"), std::invalid_argument);
  CHECK(res.content_type() == "text/html");
  res.reset();
  CHECK(res.status() == 200);
  CHECK(res.fields().empty());
  CHECK(res.content_type().empty());
  CHECK(res.body_size() == 0);
}

TEST_CASE("seams: a body_ref is queued by reference, not copied") {
  rig r(seams_app());
  r.s->feed("GET /ref HTTP/1.1\r\nHost: h\r\n\r\n");
  auto* q = r.s->output();
  REQUIRE(q != nullptr);
  iovec iov[4];
  hive::detail::output_queue::file_range f;
  REQUIRE(q->next(iov, 4, f) == 2);  // the head, then the static bytes themselves
  CHECK(std::string_view(static_cast<const char*>(iov[1].iov_base), iov[1].iov_len) == "static bytes");
  while (hive::test::take_output(*r.s, r.out) != 0) {
  }
  const auto res = hive::test::read_responses(r.out);
  REQUIRE(res.responses.size() == 1);
  CHECK(res.responses[0].body == "static bytes");
  CHECK(res.responses[0].header("Content-Type") == "text/x-ref");
}

TEST_CASE("seams: review fixes — records name the right request, origins, on_close that throws") {
  held.clear();
  {
    // A handle dropped inside its handler is hive's 500.
    rig r(seams_app());
    r.feed("GET /drop HTTP/1.1\r\nHost: h\r\n\r\n");
    REQUIRE(r.d.records.size() == 1);
    CHECK(r.d.records[0].status == 500);
    CHECK(r.d.records[0].by == origin::hive);
  }
  {
    // A deferred response's record names its request even after the bytes behind it moved.
    rig r(seams_app());
    r.feed("GET /later?x=1 HTTP/1.1\r\nHost: h\r\n\r\n");
    REQUIRE(held.size() == 1);
    std::string more;
    while (more.size() < 6000) more += "GET /up HTTP/1.1\r\nHost: h\r\n\r\n";
    r.feed(more);  // read while pending; the next prepare() compacts over the old request
    r.s->prepare();
    CHECK(held[0].finish([](hive::response& res) { res.text("x"); }));
    REQUIRE(!r.d.records.empty());
    CHECK(r.d.records[0].target == "/later?x=1");
    CHECK(r.d.records[0].method == "GET");
    held.clear();
  }
  {
    // 100-continue with no route: answered at once, recorded under its own method and target.
    rig r(seams_app());
    r.feed("POST /nope HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    REQUIRE(r.d.records.size() == 1);
    CHECK(r.d.records[0].status == 404);
    CHECK(r.d.records[0].method == "POST");
    CHECK(r.d.records[0].target == "/nope");
  }
  {
    // An on_close that throws is logged, never raised into hive's close path.
    rig r(seams_app());
    r.feed("GET /later HTTP/1.1\r\nHost: h\r\n\r\n");
    REQUIRE(held.size() == 1);
    held[0].on_close([] { throw std::runtime_error("cleanup failed"); });
    CHECK_NOTHROW(r.s->peer_gone());
    CHECK(!held[0].pending());
    held.clear();
  }
}

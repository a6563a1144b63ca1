// The sans-I/O session: requests whole and split at every byte, pipelines, rejections, deferred
// responses and timeouts — all without a socket.
#include <doctest/doctest.h>

#include <stdexcept>

#include "unit/session_harness.hpp"

using hive::test::harness;

namespace {

std::vector<hive::deferred> parked;

const hive::app& test_app() {
  static const hive::app a = [] {
    hive::app app;
    app.get("/hello", [](const hive::request&, hive::response& res) { res.text("Hello"); });
    app.post("/echo", [](const hive::request& req, hive::response& res) {
      res.body(req.body(), req.header("Content-Type").value_or("application/octet-stream"));
    });
    app.get("/users/:id", [](const hive::request& req, hive::response& res) {
      res.text("user:" + std::string(*req.param("id")));
    });
    app.get("/query", [](const hive::request& req, hive::response& res) {
      res.text(req.query("a").value_or("<none>"));
    });
    app.get("/headers", [](const hive::request& req, hive::response& res) {
      std::string s;
      for (const auto& h : req.headers()) s += std::string(h.name) + "=" + std::string(h.value) + ";";
      res.text(s);
    });
    app.get("/throw", [](const hive::request&, hive::response& res) {
      res.header("X-Partial", "yes");
      throw std::runtime_error("secret internal detail");
    });
    app.get("/nocontent", [](const hive::request&, hive::response& res) { res.status(204); });
    app.get("/json", [](const hive::request&, hive::response& res) {
      res.status(201).json({{"ok", true}, {"n", 3}});
    });
    app.get("/defer", [](const hive::request& req, hive::response& res) {
      res.header("X-Path", req.path());  // read now: the request is gone after the handler
      parked.push_back(res.defer());
    });
    app.get("/defer-drop", [](const hive::request&, hive::response& res) { (void)res.defer(); });
    app.get("/defer-now", [](const hive::request&, hive::response& res) {
      auto d = res.defer();
      d.finish([](hive::response& r) { r.text("at once"); });
    });
    app.get("/defer-twice", [](const hive::request&, hive::response& res) {
      auto first = res.defer();
      auto second = res.defer();  // the same handle: nothing goes untracked
      parked.push_back(first);
      second.finish([](hive::response& r) { r.text("second"); });
    });
    app.get("/interim", [](const hive::request&, hive::response& res) { res.status(103).text("x"); });
    app.get("/close", [](const hive::request&, hive::response& res) {
      res.header("Connection", "close").text("bye");
    });
    app.get("/inject", [](const hive::request&, hive::response& res) {
      res.header("X-Evil", "a\r\nSet-Cookie: x=1");
    });
    return app;
  }();
  return a;
}

std::string run_whole(std::string_view input) {
  harness h(test_app());
  h.feed(input);
  return h.out;
}

std::string run_split(std::string_view input, std::size_t at) {
  harness h(test_app());
  h.feed(input.substr(0, at));
  h.feed(input.substr(at));
  return h.out;
}

std::string run_bytewise(std::string_view input) {
  harness h(test_app());
  for (char c : input) h.feed(std::string_view(&c, 1));
  return h.out;
}

// The same output whether the bytes come whole, in two pieces split anywhere, or one by one.
void check_every_split(std::string_view input) {
  const std::string whole = run_whole(input);
  REQUIRE(!whole.empty());
  for (std::size_t at = 0; at <= input.size(); ++at) {
    const std::string split = run_split(input, at);
    REQUIRE_MESSAGE(split == whole, "split at byte " << at);
  }
  CHECK(run_bytewise(input) == whole);
}

const std::string mixed_pipeline =
    "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n"
    "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Type: text/x-test\r\nContent-Length: 5\r\n\r\nabcde"
    "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
    "3\r\nfoo\r\n4;ext=1\r\nbarz\r\n0\r\nX-Trailer: t\r\n\r\n"
    "HEAD /hello HTTP/1.1\r\nHost: a\r\n\r\n"
    "GET /users/J%20D HTTP/1.1\r\nHost: a\r\n\r\n"
    "GET /missing HTTP/1.1\r\nHost: a\r\n\r\n"
    "DELETE /hello HTTP/1.1\r\nHost: a\r\n\r\n"
    "GET /query?b=2&a=x+y%21 HTTP/1.1\r\nHost: a\r\n\r\n"
    "GET /nocontent HTTP/1.1\r\nHost: a\r\n\r\n"
    "GET /json HTTP/1.1\r\nHost: a\r\n\r\n";

}  // namespace

TEST_CASE("session: a pipeline of mixed requests is answered in order") {
  harness h(test_app());
  h.feed(mixed_pipeline);
  const auto r = h.responses({false, false, false, true});
  REQUIRE(!r.malformed);
  REQUIRE(r.responses.size() == 10);
  CHECK(r.rest.empty());
  const auto& rs = r.responses;
  CHECK(rs[0].status == 200);
  CHECK(rs[0].body == "Hello");
  CHECK(rs[0].header("Content-Type") == "text/plain; charset=utf-8");
  CHECK(rs[0].header("Date") == "Sun, 06 Nov 1994 08:49:37 GMT");
  CHECK(rs[0].header("Server") == "hive");
  CHECK(rs[1].body == "abcde");
  CHECK(rs[1].header("Content-Type") == "text/x-test");
  CHECK(rs[2].body == "foobarz");
  CHECK(rs[3].status == 200);
  CHECK(rs[3].header("Content-Length") == "5");  // HEAD: the GET's length, no body
  CHECK(rs[3].body.empty());
  CHECK(rs[4].body == "user:J D");
  CHECK(rs[5].status == 404);
  CHECK(rs[6].status == 405);
  CHECK(rs[6].header("Allow") == "GET, HEAD");
  CHECK(rs[7].body == "x y!");
  CHECK(rs[8].status == 204);
  CHECK(!rs[8].header("Content-Length"));
  CHECK(rs[9].status == 201);
  CHECK(rs[9].body == R"({"n":3,"ok":true})");
  CHECK(rs[9].header("Content-Type") == "application/json");
  CHECK(!hive::test::done(*h.s));
}

TEST_CASE("session: every split point gives the same answers") {
  SUBCASE("mixed pipeline") { check_every_split(mixed_pipeline); }
  SUBCASE("rejection after good requests") {
    check_every_split("GET /hello HTTP/1.1\r\nHost: a\r\n\r\nGET /hello HTTP/1.1\r\n\r\n");
  }
  SUBCASE("later 1.x minors read as 1.1, other versions refused") {
    // HTTP/1.2 is rewritten and parsed again from the message start, wherever the read ends.
    check_every_split("GET /hello HTTP/1.1\r\nHost: a\r\n\r\nGET /hello HTTP/1.2\r\nHost: a\r\n\r\n"
                      "POST /echo HTTP/1.9\r\nHost: a\r\nContent-Length: 2\r\n\r\nokGET /hello HTTP/1.20\r\n\r\n");
    check_every_split("GET /hello HTTP/1.3\r\nHost: a\r\n\r\nGET /hello HTTP/3.0\r\nHost: a\r\n\r\n");
    const std::string out = run_whole("GET /hello HTTP/1.2\r\nHost: a\r\n\r\nGET /hello HTTP/1.20\r\n\r\n");
    CHECK(out.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    CHECK(out.find("HTTP/1.1 400 Bad Request\r\n") != std::string::npos);
    CHECK(run_whole("GET /hello HTTP/3.0\r\nHost: a\r\n\r\n").rfind("HTTP/1.1 505 ", 0) == 0);
  }
  SUBCASE("body over the limit, chunked") {
    check_every_split("POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "FFFFFFF\r\nabc");
  }
}

TEST_CASE("session: idle buffers go back to the pool") {
  harness h(test_app());
  h.feed("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECK(h.pool.idle() == 1);  // borrowed for the request, returned once answered
  h.feed("GET /hello HTTP/1.1\r\nHost: a\r\n");
  CHECK(h.pool.idle() == 0);  // a request in progress keeps them
  h.feed("\r\n");
  CHECK(h.pool.idle() == 1);
}

TEST_CASE("session: headers are views with whitespace trimmed; lookup is case-insensitive") {
  harness h(test_app());
  h.feed("GET /headers HTTP/1.1\r\nHost: a\r\nX-One:   1  \r\nx-two:two\r\n\r\n");
  const auto r = h.responses();
  REQUIRE(r.responses.size() == 1);
  CHECK(r.responses[0].body == "Host=a;X-One=1;x-two=two;");
}

namespace {
struct rejection {
  std::string name;
  std::string request;
  int status;
};
}  // namespace

TEST_CASE("session: malformed or abusive requests get the prescribed status, then close") {
  hive::detail::parser_limits limits;
  limits.max_request_line_bytes = 256;
  limits.max_header_bytes = 512;
  limits.max_header_count = 10;
  limits.max_body_bytes = 100;
  std::string many_headers = "GET /hello HTTP/1.1\r\nHost: a\r\n";
  for (int i = 0; i < 11; ++i) many_headers += "X-" + std::to_string(i) + ": v\r\n";
  many_headers += "\r\n";
  const std::vector<rejection> cases = {
      {"no Host on 1.1", "GET /hello HTTP/1.1\r\n\r\n", 400},
      {"two Hosts", "GET /hello HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
      {"Host with userinfo", "GET /hello HTTP/1.1\r\nHost: u@a\r\n\r\n", 400},
      {"CL and TE", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
      {"TE not ending in chunked", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400},
      {"unknown coding", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
      {"TE in HTTP/1.0", "POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
      {"CL not a number", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n", 400},
      {"CL with a sign", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\nx", 400},
      {"two different CLs", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx", 400},
      {"CL overflow", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400},
      {"target too long", "GET /" + std::string(300, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n", 414},
      {"header section too large", "GET /hello HTTP/1.1\r\nHost: a\r\nX: " + std::string(600, 'v') + "\r\n\r\n", 431},
      {"too many header fields", many_headers, 431},
      {"declared body too large", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 101\r\n\r\n", 413},
      {"chunked body too large", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n" + std::string(64, 'x') + "\r\n40\r\n" + std::string(64, 'x') + "\r\n0\r\n\r\n", 413},
      {"HTTP/2.0 over 1.1 framing", "GET /hello HTTP/2.0\r\nHost: a\r\n\r\n", 505},
      {"two spaces", "GET  /hello HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"unknown method token", "BREW /hello HTTP/1.1\r\nHost: a\r\n\r\n", 501},
      {"control character in method", "G\x01T /hello HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"expectation other than 100-continue", "GET /hello HTTP/1.1\r\nHost: a\r\nExpect: tea\r\n\r\n", 417},
      {"space before colon", "GET /hello HTTP/1.1\r\nHost : a\r\n\r\n", 400},
      {"obs-fold", "GET /hello HTTP/1.1\r\nHost: a\r\nX: a\r\n  b\r\n\r\n", 400},
      {"bare LF line ending in a header", "GET /hello HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", 400},
      {"NUL in a header value", std::string("GET /hello HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", 40), 400},
      {"bad chunk size", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
      {"chunk without CRLF", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n", 400},
      {"asterisk-form with GET", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    harness h(test_app(), limits);
    // A request a rejection must never let through, whatever the parser made of the bytes before.
    h.feed(c.request + "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n");
    const auto r = h.responses();
    REQUIRE(!r.malformed);
    REQUIRE(r.responses.size() == 1);
    CHECK(r.responses[0].status == c.status);
    CHECK(r.responses[0].header("Connection") == "close");
    CHECK(r.responses[0].body.find("Hello") == std::string::npos);
    CHECK(hive::test::done(*h.s));
    CHECK(h.s->linger());
  }
}

TEST_CASE("session: Expect: 100-continue") {
  SUBCASE("the route reads the body: 100 first, then the answer") {
    harness h(test_app());
    h.feed("POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
    CHECK(h.out == "HTTP/1.1 100 Continue\r\n\r\n");
    h.feed("abc");
    const auto r = h.responses();
    REQUIRE(r.responses.size() == 2);
    CHECK(r.responses[0].status == 100);
    CHECK(r.responses[1].body == "abc");
    CHECK(!hive::test::done(*h.s));
  }
  SUBCASE("no route: the final status at once, no 100, then close") {
    harness h(test_app());
    h.feed("POST /nowhere HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
    const auto r = h.responses();
    REQUIRE(r.responses.size() == 1);
    CHECK(r.responses[0].status == 404);
    CHECK(hive::test::done(*h.s));
  }
  SUBCASE("body over the limit: 413 at once") {
    hive::detail::parser_limits limits;
    limits.max_body_bytes = 10;
    harness h(test_app(), limits);
    h.feed("POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 11\r\n\r\n");
    const auto r = h.responses();
    REQUIRE(r.responses.size() == 1);
    CHECK(r.responses[0].status == 413);
  }
}

TEST_CASE("session: connection persistence, HTTP/1.1 and 1.0") {
  SUBCASE("1.1 Connection: close") {
    harness h(test_app());
    h.feed("GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /hello HTTP/1.1\r\nHost: a\r\n\r\n");
    const auto r = h.responses();
    REQUIRE(r.responses.size() == 1);
    CHECK(r.responses[0].header("Connection") == "close");
    CHECK(hive::test::done(*h.s));
    CHECK(!h.s->linger());
  }
  SUBCASE("1.0 closes by default") {
    harness h(test_app());
    h.feed("GET /hello HTTP/1.0\r\n\r\n");
    const auto r = h.responses();
    REQUIRE(r.responses.size() == 1);
    CHECK(r.responses[0].header("Connection") == "close");
    CHECK(hive::test::done(*h.s));
  }
  SUBCASE("1.0 keep-alive when asked") {
    harness h(test_app());
    h.feed("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    const auto r = h.responses();
    REQUIRE(r.responses.size() == 2);
    CHECK(r.responses[0].header("Connection") == "keep-alive");
    CHECK(!hive::test::done(*h.s));
  }
  SUBCASE("the handler asks to close") {
    harness h(test_app());
    h.feed("GET /close HTTP/1.1\r\nHost: a\r\n\r\nGET /hello HTTP/1.1\r\nHost: a\r\n\r\n");
    const auto r = h.responses();
    REQUIRE(r.responses.size() == 1);
    CHECK(r.responses[0].header("Connection") == "close");
    CHECK(r.responses[0].body == "bye");
    CHECK(hive::test::done(*h.s));
  }
  SUBCASE("EOF after complete requests: answered, then close") {
    harness h(test_app());
    h.feed("GET /hello HTTP/1.1\r\nHost: a\r\n\r\nGET /hel");
    h.s->on_eof();
    const auto r = h.responses();
    REQUIRE(r.responses.size() == 1);
    CHECK(hive::test::done(*h.s));
  }
}

TEST_CASE("session: a handler that throws gets a 500 without its message; the next is served") {
  harness h(test_app());
  h.feed("GET /throw HTTP/1.1\r\nHost: a\r\n\r\nGET /hello HTTP/1.1\r\nHost: a\r\n\r\n");
  const auto r = h.responses();
  REQUIRE(r.responses.size() == 2);
  CHECK(r.responses[0].status == 500);
  CHECK(r.responses[0].body == "Internal Server Error\n");
  CHECK(h.out.find("secret") == std::string::npos);
  CHECK(!r.responses[0].header("X-Partial"));
  CHECK(r.responses[1].body == "Hello");
}

TEST_CASE("session: a handler cannot inject header lines") {
  harness h(test_app());
  h.feed("GET /inject HTTP/1.1\r\nHost: a\r\n\r\n");
  const auto r = h.responses();
  REQUIRE(r.responses.size() == 1);
  CHECK(r.responses[0].status == 500);
  CHECK(h.out.find("Set-Cookie") == std::string::npos);
}

TEST_CASE("session: deferred responses keep pipelined answers in order") {
  parked.clear();
  harness h(test_app());
  h.feed("GET /defer HTTP/1.1\r\nHost: a\r\n\r\nGET /hello HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECK(h.out.empty());
  CHECK(h.s->current() == hive::detail::session::state::awaiting);
  REQUIRE(parked.size() == 1);
  CHECK(parked[0].pending());
  CHECK(parked[0].finish([](hive::response& res) { res.text("later"); }));
  CHECK(!parked[0].pending());
  CHECK(!parked[0].finish([](hive::response& res) { res.text("twice"); }));
  h.drain();
  const auto r = h.responses();
  REQUIRE(r.responses.size() == 2);
  CHECK(r.responses[0].body == "later");
  CHECK(r.responses[0].header("X-Path") == "/defer");
  CHECK(r.responses[1].body == "Hello");
  parked.clear();
}

TEST_CASE("session: a deferred handle dropped unfinished answers 500; finished inline is fine") {
  harness h(test_app());
  h.feed("GET /defer-drop HTTP/1.1\r\nHost: a\r\n\r\nGET /defer-now HTTP/1.1\r\nHost: a\r\n\r\n");
  const auto r = h.responses();
  REQUIRE(r.responses.size() == 2);
  CHECK(r.responses[0].status == 500);
  CHECK(r.responses[1].body == "at once");
}

TEST_CASE("session: a deferred handle outliving its connection does nothing") {
  parked.clear();
  {
    harness h(test_app());
    h.feed("GET /defer HTTP/1.1\r\nHost: a\r\n\r\n");
  }
  REQUIRE(parked.size() == 1);
  CHECK(!parked[0].pending());
  CHECK(!parked[0].finish([](hive::response& res) { res.text("nobody"); }));
  parked.clear();
}

TEST_CASE("session: timeouts") {
  SUBCASE("header section incomplete: 408 and close") {
    harness h(test_app());
    h.feed("GET /hello HTTP/1.1\r\nHost:");
    CHECK(h.s->read_timer() == hive::detail::protocol::timer::head);
    h.s->timeout();
    h.drain();
    const auto r = h.responses();
    REQUIRE(r.responses.size() == 1);
    CHECK(r.responses[0].status == 408);
    CHECK(hive::test::done(*h.s));
  }
  SUBCASE("body incomplete: 408") {
    harness h(test_app());
    h.feed("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc");
    CHECK(h.s->read_timer() == hive::detail::protocol::timer::body);
    h.s->timeout();
    h.drain();
    const auto r = h.responses();
    REQUIRE(r.responses.size() == 1);
    CHECK(r.responses[0].status == 408);
  }
  SUBCASE("idle: close without a word") {
    harness h(test_app());
    h.feed("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n");
    const auto before = h.out.size();
    CHECK(h.s->read_timer() == hive::detail::protocol::timer::idle);
    h.s->timeout();
    h.drain();
    CHECK(h.out.size() == before);
    CHECK(hive::test::done(*h.s));
  }
}

TEST_CASE("session: drain marks the next response close, in progress or idle") {
  harness h(test_app());
  h.feed("GET /hello HTTP/1.1\r\nHost: a\r\n");
  h.s->drain();
  CHECK(!hive::test::done(*h.s));
  h.feed("\r\n");
  auto r = h.responses();
  REQUIRE(r.responses.size() == 1);
  CHECK(r.responses[0].header("Connection") == "close");
  CHECK(hive::test::done(*h.s));

  harness idle(test_app());
  idle.s->drain();
  CHECK(!hive::test::done(*idle.s));  // an idle client may be sending: the shell gives it a grace
  idle.feed("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n");
  r = idle.responses();
  REQUIRE(r.responses.size() == 1);
  CHECK(r.responses[0].body == "Hello");
  CHECK(r.responses[0].header("Connection") == "close");
  CHECK(hive::test::done(*idle.s));
}

TEST_CASE("session: absolute-form targets route on their path") {
  harness h(test_app());
  h.feed("GET http://example.com/users/7?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n");
  const auto r = h.responses();
  REQUIRE(r.responses.size() == 1);
  CHECK(r.responses[0].body == "user:7");
}

TEST_CASE("session: a large body arriving in pieces is assembled; the head survives compaction") {
  harness h(test_app());
  const std::string body(200 * 1024, 'z');
  h.feed("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-big\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n");
  for (std::size_t i = 0; i < body.size(); i += 3000) h.feed(std::string_view(body).substr(i, 3000));
  const auto r = h.responses();
  REQUIRE(r.responses.size() == 1);
  CHECK(r.responses[0].body.size() == body.size());
  CHECK((r.responses[0].body == body));  // not decomposed: a failure must not print 200 KiB
  CHECK(r.responses[0].header("Content-Type") == "application/x-big");
}

TEST_CASE("session: finishing or dropping a deferred response runs no handler inside the user's call") {
  parked.clear();
  harness h(test_app());
  // Three deferred requests pipelined: only the first is handled until it is answered.
  h.feed("GET /defer HTTP/1.1\r\nHost: a\r\n\r\nGET /defer HTTP/1.1\r\nHost: a\r\n\r\n"
         "GET /defer HTTP/1.1\r\nHost: a\r\n\r\n");
  REQUIRE(parked.size() == 1);
  // As a user would: finish every parked handle in a loop over the container handlers add to.
  for (std::size_t i = 0; i < parked.size(); ++i) {
    parked[i].finish([](hive::response& r) { r.text("done"); });
    CHECK(parked.size() == 1);  // the next request's handler did not run inside finish()
  }
  h.drain();  // the shell writes the answer from its loop; the next request is handled then
  REQUIRE(parked.size() == 2);
  // Dropping an unfinished handle answers 500, again without running the next handler inline.
  parked.erase(parked.begin() + 1);
  CHECK(parked.size() == 1);
  h.drain();
  REQUIRE(parked.size() == 2);
  parked[1].finish([](hive::response& r) { r.text("last"); });
  h.drain();
  const auto r = h.responses();
  REQUIRE(r.responses.size() == 3);
  CHECK(r.responses[0].body == "done");
  CHECK(r.responses[1].status == 500);
  CHECK(r.responses[2].body == "last");
  parked.clear();
}

TEST_CASE("session: defer() twice gives one handle; the session outliving it is safe") {
  parked.clear();
  {
    harness h(test_app());
    h.feed("GET /defer-twice HTTP/1.1\r\nHost: a\r\n\r\nGET /hello HTTP/1.1\r\nHost: a\r\n\r\n");
    const auto r = h.responses();
    REQUIRE(r.responses.size() == 2);
    CHECK(r.responses[0].body == "second");
    CHECK(r.responses[1].body == "Hello");
    REQUIRE(parked.size() == 1);
    CHECK(!parked[0].pending());  // finished through the other copy
  }
  CHECK(!parked[0].finish([](hive::response& r) { r.text("late"); }));
  parked.clear();  // dropping it after the session is gone touches nothing
}

TEST_CASE("session: a 1xx cannot be a final answer (it would shift every later response)") {
  harness h(test_app());
  h.feed("GET /interim HTTP/1.1\r\nHost: a\r\n\r\nGET /hello HTTP/1.1\r\nHost: a\r\n\r\n");
  const auto r = h.responses();
  REQUIRE(r.responses.size() == 2);
  CHECK(r.responses[0].status == 500);
  CHECK(r.responses[1].body == "Hello");
}

TEST_CASE("session: HEAD with Expect: 100-continue to no route gets no body") {
  harness h(test_app());
  h.feed("HEAD /nowhere HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
  CHECK(h.out.find("\r\n\r\n") == h.out.size() - 4);  // the head, and nothing after it
  const auto r = h.responses({true});
  REQUIRE(r.responses.size() == 1);
  CHECK(r.responses[0].status == 404);
}

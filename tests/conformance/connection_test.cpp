// Connection management and message semantics over a real socket: pipelining and desync
// (RFC 9112 §9.3, §11.2), persistence and close (RFC 9112 §9.6), bodiless responses (RFC 9110
// §9.3.2, §15.3.5, §15.4.5), Expect (RFC 9110 §10.1.1), and what a response may carry.
#include <doctest/doctest.h>

#include <thread>

#include "conformance/probe.hpp"

using conformance::fixture;
using conformance::get;
using conformance::post;
using namespace std::chrono_literals;

namespace {
const char* const smuggled = "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n";

// An app whose answers have no body by definition.
const hive::app& bodiless_app() {
  static const hive::app a = [] {
    hive::app app;
    app.get("/204", [](const hive::request&, hive::response& res) { res.status(204).text("dropped"); });
    app.get("/304", [](const hive::request&, hive::response& res) {
      res.status(304).header("ETag", "\"v1\"").text("dropped");
    });
    app.get("/*", [](const hive::request&, hive::response& res) { res.text("Hello, world!\n"); });
    return app;
  }();
  return a;
}
}  // namespace

TEST_CASE_FIXTURE(fixture, "RFC 9112 §9.3.2: pipelined requests are answered in order") {
  const auto o = served(get("/1") + post("/echo", "Content-Length: 3\r\n", "one") + get("/3") +
                            post("/echo", "Transfer-Encoding: chunked\r\n", "3\r\ntwo\r\n0\r\n\r\n"),
                        {200, 200, 200, 200});
  CHECK(o.responses[1].body == "one");
  CHECK(o.responses[3].body == "two");
}

TEST_CASE("RFC 9112 §9.3.2: a pipeline split at every byte gives the same answers") {
  // In the sans-I/O session, one byte per read: over a socket the kernel would coalesce them.
  const std::string pipeline = get("/a") + post("/echo", "Content-Length: 2\r\n", "hi") + get("/b") +
                               post("/echo", "Transfer-Encoding: chunked\r\n", "3\r\ntwo\r\n0\r\n\r\n");
  const std::string whole = conformance::session_output(pipeline, false);
  CHECK(conformance::session_output(pipeline, true) == whole);
  const auto r = hive::test::read_responses(whole);
  REQUIRE(r.responses.size() == 4);
  CHECK(r.responses[1].body == "hi");
  CHECK(r.responses[3].body == "two");
  CHECK(r.rest.empty());
}

TEST_CASE_FIXTURE(fixture, "RFC 9112 §9.3.2: a pipeline trickled over a socket gets the same answers") {
  // What the socket adds to the test above: the connection's read loop, woken by readiness with
  // part of a request in its buffer. How the pieces group into reads is the kernel's choice
  // (loopback coalesces them), so this is no split at every byte; tests/integration's
  // connection_test does that over a socketpair, one recv per byte.
  const std::string pipeline = get("/a") + post("/echo", "Content-Length: 2\r\n", "hi") + get("/b");
  hive::test::client c(srv.port());
  for (std::size_t i = 0; i < pipeline.size(); ++i) {
    c.send(std::string_view(pipeline).substr(i, 1));
    if (i % 16 == 0) std::this_thread::sleep_for(1ms);  // a few reads at least
  }
  const auto r = c.read_responses(3);
  REQUIRE(r.responses.size() == 3);
  CHECK(r.responses[1].body == "hi");
  CHECK(r.rest.empty());
}

TEST_CASE_FIXTURE(fixture, "RFC 9112 §11.2: a rejected request never lets the bytes after it be read as a request") {
  // Classic desync payloads: each would smuggle /smuggled past a parser that read it differently.
  const std::vector<std::pair<const char*, std::string>> cases = {
      {"CL.TE", post("/echo", "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n") + smuggled},
      {"TE.CL", post("/echo", "Transfer-Encoding: chunked\r\nContent-Length: 40\r\n", "0\r\n\r\n") + smuggled},
      {"TE.TE obfuscated", post("/echo", "Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n", "0\r\n\r\n") + smuggled},
      {"two Content-Lengths", post("/echo", "Content-Length: 0\r\nContent-Length: 40\r\n", "") + smuggled},
      {"space before colon", post("/echo", "Transfer-Encoding : chunked\r\n", "0\r\n\r\n") + smuggled},
      {"obs-folded TE", post("/echo", "Transfer-Encoding:\r\n chunked\r\n", "0\r\n\r\n") + smuggled},
      {"bare LF framing", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 0\n\r\n" + std::string(smuggled)},
      {"chunk size overflow", post("/echo", "Transfer-Encoding: chunked\r\n", "10000000000000000\r\n\r\n") + smuggled},
      {"bad chunk then a request", post("/echo", "Transfer-Encoding: chunked\r\n", "3\r\nabcGET") + smuggled},
      {"TE in HTTP/1.0", "POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + std::string(smuggled)},
      {"body over the limit", post("/echo", "Content-Length: 2000000\r\n", smuggled)},
      {"garbage", conformance::bytes("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03") + smuggled},
  };
  for (const auto& c : cases) {
    INFO(std::string(c.first));  // not a structured binding: clang 14 cannot capture one
    const auto o = probe(c.second);
    CHECK(o.closed);
    CHECK(o.rest.empty());
    REQUIRE(o.responses.size() == 1);  // not /smuggled, not the canary
    CHECK(o.responses[0].status >= 400);
    CHECK(o.responses[0].header("Connection") == "close");
  }
}

TEST_CASE_FIXTURE(fixture, "RFC 9112 §11.2: a rejection after answered requests ends the pipeline there") {
  const auto o = probe(get("/1") + get("/2") + "GET /3 HTTP/1.1\r\nHost: a\r\nX : y\r\n\r\n" + get("/4"));
  REQUIRE(o.responses.size() == 3);
  CHECK(o.responses[0].status == 200);
  CHECK(o.responses[1].status == 200);
  CHECK(o.responses[2].status == 400);
  CHECK(o.closed);
}

TEST_CASE_FIXTURE(fixture, "RFC 9112 §9.6: Connection: close in a pipeline is the last request answered") {
  const auto o = probe(get("/1") + get("/2", "Connection: close\r\n") + get("/3") + get("/4"));
  REQUIRE(o.responses.size() == 2);
  CHECK(!o.responses[0].header("Connection"));
  CHECK(o.responses[1].header("Connection") == "close");
  CHECK(o.closed);
  CHECK(o.rest.empty());
}

TEST_CASE_FIXTURE(fixture, "RFC 9112 §9.3: close is a connection option among others") {
  const auto o = probe(get("/1", "Connection: keep-alive, CLOSE\r\n") + get("/2"));
  REQUIRE(o.responses.size() == 1);
  CHECK(o.responses[0].header("Connection") == "close");
}

TEST_CASE_FIXTURE(fixture, "RFC 9110 §5.5: close with whitespace around it, tabs included, still closes") {
  for (const char* value : {"close\t", "\tclose\t", "close \t", "foo,\tclose\t,bar"}) {
    CAPTURE(value);
    const auto o = probe(get("/1", std::string("Connection: ") + value + "\r\n") + get("/2"));
    REQUIRE(o.responses.size() == 1);
    CHECK(o.responses[0].header("Connection") == "close");
    CHECK(o.closed);
  }
}

TEST_CASE_FIXTURE(fixture, "RFC 9112 §9.3: HTTP/1.0 closes unless it asks to keep alive") {
  auto o = probe("GET / HTTP/1.0\r\n\r\n" + get("/2"));
  REQUIRE(o.responses.size() == 1);
  CHECK(o.responses[0].header("Connection") == "close");
  o = served("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", {200});
  CHECK(o.responses[0].header("Connection") == "keep-alive");
}

TEST_CASE_FIXTURE(fixture, "RFC 9112 §9.6: the server closes after its answer to a client's half-close") {
  hive::test::client c(srv.port());
  c.send(get("/") + "GET /incomplete HTTP/1.1\r\nHo");
  c.shutdown_write();
  const auto r = hive::test::read_responses(c.read_until_close(3s));
  REQUIRE(r.responses.size() == 1);  // the complete one; the cut one gets nothing
  CHECK(c.closed());
}

TEST_CASE_FIXTURE(fixture, "RFC 9110 §9.3.2: HEAD gets GET's header fields and no body") {
  const auto o = probe("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n" + get("/"), {true, false, false});
  REQUIRE(o.responses.size() == 3);
  CHECK(o.responses[0].status == 200);
  CHECK(o.responses[0].header("Content-Length") == o.responses[1].header("Content-Length"));
  CHECK(o.responses[0].body.empty());
  CHECK(o.responses[1].body == "Hello, world!\n");
  CHECK(o.rest.empty());
}

TEST_CASE("RFC 9110 §15.3.5, §15.4.5: 204 and 304 carry no body; 204 no Content-Length") {
  hive::test::test_server srv(bodiless_app(), conformance::suite_options());
  hive::test::client c(srv.port());
  c.send(get("/204") + get("/304") + get("/"));
  const auto r = c.read_responses(3);
  REQUIRE(r.responses.size() == 3);
  CHECK(r.responses[0].status == 204);
  CHECK(!r.responses[0].header("Content-Length"));
  CHECK(!r.responses[0].header("Transfer-Encoding"));
  CHECK(r.responses[1].status == 304);
  CHECK(r.responses[1].header("ETag") == "\"v1\"");
  CHECK(!r.responses[1].header("Transfer-Encoding"));
  // The next response starts right after each bodiless head: nothing was sent in between.
  CHECK(r.responses[2].body == "Hello, world!\n");
  CHECK(r.rest.empty());
}

TEST_CASE_FIXTURE(fixture, "RFC 9110 §10.1.1: Expect: 100-continue gets 100 before the body is read") {
  hive::test::client c(srv.port());
  c.send(post("/echo", "Expect: 100-continue\r\nContent-Length: 4\r\n", ""));
  auto r = c.read_responses(1, 3s);
  REQUIRE(r.responses.size() == 1);
  CHECK(r.responses[0].status == 100);
  c.send("body");
  r = c.read_responses(1, 3s);
  REQUIRE(r.responses.size() == 1);
  CHECK(r.responses[0].status == 200);
  CHECK(r.responses[0].body == "body");
}

TEST_CASE_FIXTURE(fixture, "RFC 9110 §10.1.1: 100-continue is case-insensitive, not sent without a body or to HTTP/1.0") {
  auto o = served(post("/echo", "Expect: 100-Continue\r\nContent-Length: 1\r\n", "x"), {100, 200});
  CHECK(o.responses[1].body == "x");
  served(get("/", "Expect: 100-continue\r\n"), {200});
  o = probe("POST /echo HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx");
  REQUIRE(o.responses.size() == 1);
  CHECK(o.responses[0].status == 200);
}

TEST_CASE_FIXTURE(fixture, "RFC 9110 §10.1.1: an expectation other than 100-continue gets 417") {
  rejected(get("/", "Expect: tea\r\n"), 417);
  rejected(post("/echo", "Expect: 100-continue, x\r\nContent-Length: 1\r\n", "x"), 417);
}

TEST_CASE_FIXTURE(fixture, "RFC 9110 §10.1.1: a refused Expect body is never read as requests") {
  // 413 at once (no 100); the body the client sends anyway is drained, not parsed.
  const auto o = probe(post("/echo", "Expect: 100-continue\r\nContent-Length: 5000000\r\n", smuggled));
  REQUIRE(o.responses.size() == 1);
  CHECK(o.responses[0].status == 413);
}

TEST_CASE_FIXTURE(fixture, "RFC 9110 §17: responses never reflect request bytes") {
  const std::string mark = "Zq7Mark";
  const std::vector<std::string> requests = {
      "GET /" + mark + "<script> HTTP/1.1\r\nHost: a\r\n\r\n",
      "GET /" + mark + " HTTP/1.1\r\nHost: a\r\nX-" + mark + " : v\r\n\r\n",
      "GET /" + mark + " HTTP/1.1\r\nHost: " + mark + "@a\r\n\r\n",
      "GET /" + mark + " HTTP/9.9\r\nHost: a\r\n\r\n",
      mark + " /x HTTP/1.1\r\nHost: a\r\n\r\n",
      "GET /x HTTP/1.1\r\nHost: a\r\nExpect: " + mark + "\r\n\r\n",
      "POST /" + mark + " HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx",
      "DELETE /" + mark + " HTTP/1.1\r\nHost: a\r\n\r\n",
      post("/echo", "Transfer-Encoding: " + mark + ", chunked\r\n", "0\r\n\r\n"),
      get("/" + std::string(9000, 'a') + mark),
  };
  for (const auto& raw : requests) {
    CAPTURE(raw.substr(0, 60));
    hive::test::client c(srv.port());
    c.send(raw);
    const std::string bytes = c.read_for(300ms);
    CHECK(bytes.starts_with("HTTP/1.1 "));
    CHECK(bytes.find(mark) == std::string::npos);
  }
}

TEST_CASE_FIXTURE(fixture, "RFC 9110 §6.6.1, §10.2.4: every response carries Date and, if enabled, Server") {
  const auto o = served(get("/"), {200});
  CHECK(o.responses[0].header("Date"));
  CHECK(o.responses[0].header("Server") == "hive");
  const auto r = probe("BREW / HTTP/1.1\r\nHost: a\r\n\r\n");
  REQUIRE(r.responses.size() == 1);
  CHECK(r.responses[0].status == 501);
  CHECK(r.responses[0].header("Date"));
}

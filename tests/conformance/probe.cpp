#include "conformance/probe.hpp"

#include <doctest/doctest.h>

#include "unit/session_harness.hpp"

namespace conformance {

namespace {
constexpr std::string_view canary = "GET /canary HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
}  // namespace

const hive::app& hello_app() {
  static const hive::app a = [] {
    hive::app app;
    app.post("/echo", [](const hive::request& req, hive::response& res) {
      res.body(req.body(), req.header("Content-Type").value_or("application/octet-stream"));
    });
    app.get("/*", [](const hive::request&, hive::response& res) { res.text("Hello, world!\n"); });
    return app;
  }();
  return a;
}

hive::options suite_options() {
  hive::options o;
  o.header_timeout = std::chrono::seconds(3);
  o.body_timeout = std::chrono::seconds(3);
  o.idle_timeout = std::chrono::seconds(3);
  o.write_timeout = std::chrono::seconds(3);
  return o;
}

outcome fixture::probe(std::string_view raw, const std::vector<bool>& head) {
  hive::test::client c(srv.port());
  REQUIRE(c.connected());
  c.send(std::string(raw) + std::string(canary));
  const std::string bytes = c.read_until_close(std::chrono::seconds(5));
  const auto r = hive::test::read_responses(bytes, head);
  return {r.responses, r.rest, r.malformed, c.closed()};
}

void all_rejected(fixture& f, const std::vector<bad>& cases) {
  for (const auto& c : cases) {
    INFO(std::string(c.what));
    f.rejected(c.raw, c.status);
  }
}

void fixture::rejected(std::string_view raw, int status) {
  const auto o = probe(raw);
  CHECK(!o.malformed);
  CHECK(o.closed);
  CHECK(o.rest.empty());
  REQUIRE(o.responses.size() == 1);  // never the canary: nothing after a rejection is read
  CHECK(o.responses[0].status == status);
  CHECK(o.responses[0].header("Connection") == "close");
  CHECK(o.responses[0].body.find("Hello") == std::string::npos);
}

outcome fixture::served(std::string_view raw, std::vector<int> statuses) {
  auto o = probe(raw);
  CHECK(!o.malformed);
  CHECK(o.closed);
  CHECK(o.rest.empty());
  REQUIRE(o.responses.size() == statuses.size() + 1);
  for (std::size_t i = 0; i < statuses.size(); ++i) {
    CAPTURE(i);
    CHECK(o.responses[i].status == statuses[i]);
  }
  CHECK(o.responses.back().body == "Hello, world!\n");  // the canary
  o.responses.pop_back();
  return o;
}

std::string session_output(std::string_view raw, bool bytewise) {
  hive::test::harness h(hello_app());
  if (!bytewise) {
    h.feed(raw);
  } else {
    for (const char& c : raw) h.feed(std::string_view(&c, 1));
  }
  return h.out;
}

std::string get(std::string_view target, std::string_view extra) {
  return "GET " + std::string(target) + " HTTP/1.1\r\nHost: a\r\n" + std::string(extra) + "\r\n";
}

std::string post(std::string_view target, std::string_view extra, std::string_view body) {
  return "POST " + std::string(target) + " HTTP/1.1\r\nHost: a\r\n" + std::string(extra) + "\r\n" +
         std::string(body);
}

}  // namespace conformance

// Filters, groups and error answers over a sans-I/O session: the order filters run in, a filter
// that answers, after() on every answer (hive's own included), deferred and head-time filters.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "unit/session_harness.hpp"

// g++ 12 warns when a designated initializer leaves out members that have defaults, which is how
// hive::filter is meant to be written (fixed in g++ 14).
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace filter_tests {

using hive::filter_result;
using hive::test::harness;

// Appends `name` to a trace before and "/name" after.
hive::filter tracing_filter(std::vector<std::string>& trace, std::string name) {
  return {.before = [&trace, name](const hive::request&, hive::response&) {
            trace.push_back(name);
            return filter_result::next;
          },
          .after = [&trace, name](const hive::request&, hive::response&) { trace.push_back("/" + name); }};
}

std::string filter_requests(std::string_view method, std::string_view target, std::string_view extra = {}) {
  return std::string(method) + " " + std::string(target) + " HTTP/1.1\r\nHost: h\r\n" + std::string(extra) + "\r\n";
}

}  // namespace filter_tests

using namespace filter_tests;

TEST_CASE("filters: app, group and route filters run outermost first; after() innermost first") {
  std::vector<std::string> trace;
  hive::app app;
  app.use(tracing_filter(trace, "app"));
  auto api = app.group("/api");
  api.use(tracing_filter(trace, "api"));
  auto v1 = api.group("/v1");
  v1.use(tracing_filter(trace, "v1"));
  v1.get("/x", [&](const hive::request&, hive::response& res) {
    trace.push_back("handler");
    res.text("x");
  }, {.filters = {tracing_filter(trace, "route")}});
  app.get("/plain", [&](const hive::request&, hive::response& res) {
    trace.push_back("plain");
    res.text("p");
  });
  harness h(app);
  h.feed(filter_requests("GET", "/api/v1/x"));
  CHECK(trace == std::vector<std::string>{"app", "api", "v1", "route", "handler", "/route", "/v1", "/api", "/app"});
  trace.clear();
  h.feed(filter_requests("GET", "/plain"));
  CHECK(trace == std::vector<std::string>{"app", "plain", "/app"});
  const auto res = h.responses();
  REQUIRE(res.responses.size() == 2);
  CHECK(res.responses[0].body == "x");
  CHECK(res.responses[1].body == "p");
}

TEST_CASE("filters: a filter that answers stops the chain; after() still runs on its answer") {
  std::vector<std::string> trace;
  bool handler_ran = false;
  hive::app app;
  app.use({.after = [](const hive::request&, hive::response& res) { res.header("X-Seen", "1"); }});
  app.use({.before = [&](const hive::request& req, hive::response& res) {
    if (req.header("Authorization") == "Bearer ok") return filter_result::next;
    res.status(401).header("WWW-Authenticate", "Bearer").text("no\n");
    return filter_result::answered;
  }});
  app.use(tracing_filter(trace, "later"));
  app.get("/s", [&](const hive::request&, hive::response& res) {
    handler_ran = true;
    res.text("secret");
  });
  harness h(app);
  h.feed(filter_requests("GET", "/s") + filter_requests("GET", "/s", "Authorization: Bearer ok\r\n"));
  const auto res = h.responses();
  REQUIRE(res.responses.size() == 2);
  CHECK(res.responses[0].status == 401);
  CHECK(res.responses[0].header("WWW-Authenticate") == "Bearer");
  CHECK(res.responses[0].header("X-Seen") == "1");
  CHECK(res.responses[1].status == 200);
  CHECK(res.responses[1].body == "secret");
  CHECK(res.responses[1].header("X-Seen") == "1");
  CHECK(handler_ran);
  // The refused request never reached "later"'s before(); every after() runs on both answers.
  CHECK(trace == std::vector<std::string>{"/later", "later", "/later"});
}

TEST_CASE("filters: after() sees hive's own answers: 404, 405, OPTIONS *, 400, 413, 500") {
  std::vector<int> statuses;
  hive::app app;
  app.use({.after = [&](const hive::request&, hive::response& res) {
    statuses.push_back(res.status());
    res.header("Access-Control-Allow-Origin", "*");
  }});
  app.get("/a", [](const hive::request&, hive::response& res) { res.text("a"); });
  app.get("/throw", [](const hive::request&, hive::response&) { throw std::runtime_error("boom"); });
  hive::detail::parser_limits limits;
  limits.max_body_bytes = 4;
  {
    harness h(app, limits);
    h.feed(filter_requests("GET", "/nope") + filter_requests("DELETE", "/a") + filter_requests("OPTIONS", "*") +
           filter_requests("GET", "/throw") + "GET /a HTTP/1.1\r\n\r\n");  // no Host: 400
    const auto res = h.responses();
    REQUIRE(res.responses.size() == 5);
    for (const auto& r : res.responses) CHECK(r.header("Access-Control-Allow-Origin") == "*");
  }
  {
    harness h(app, limits);
    h.feed("POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789");
    const auto res = h.responses();
    REQUIRE(res.responses.size() == 1);
    CHECK(res.responses[0].status == 413);
    CHECK(res.responses[0].header("Access-Control-Allow-Origin") == "*");
  }
  CHECK(statuses == std::vector<int>{404, 405, 200, 500, 400, 413});
}

TEST_CASE("filters: a group's filters run for a 404 under its prefix, not elsewhere") {
  int api_afters = 0;
  hive::app app;
  auto api = app.group("/api");
  api.use({.after = [&](const hive::request&, hive::response&) { ++api_afters; }});
  api.get("/notes", [](const hive::request&, hive::response& res) { res.text("n"); });
  harness h(app);
  h.feed(filter_requests("GET", "/api/nope") + filter_requests("GET", "/apix") + filter_requests("GET", "/other") +
         filter_requests("GET", "/api/notes"));
  const auto res = h.responses();
  REQUIRE(res.responses.size() == 4);
  CHECK(res.responses[0].status == 404);
  CHECK(res.responses[3].body == "n");
  CHECK(api_afters == 2);  // /api/nope and /api/notes
}

TEST_CASE("filters: a filter may answer later (defer); after() runs when it finishes, with the request") {
  std::vector<hive::deferred> pending;
  std::vector<std::string> seen_origins;
  hive::app app;
  app.use({.after = [&](const hive::request& req, hive::response& res) {
    seen_origins.emplace_back(req.header("Origin").value_or("-"));
    res.header("X-After", "1");
  }});
  app.use({.before = [&](const hive::request&, hive::response& res) {
    pending.push_back(res.defer());
    return filter_result::answered;
  }});
  app.get("/d", [](const hive::request&, hive::response& res) { res.text("never"); });
  harness h(app);
  h.feed(filter_requests("GET", "/d", "Origin: https://a.example\r\n"));
  CHECK(h.responses().responses.empty());
  // The client's next request overwrites the buffer the first one was read into.
  h.feed(filter_requests("GET", "/d", "Origin: https://b.example-longer\r\n"));
  REQUIRE(pending.size() == 1);
  CHECK(pending[0].finish([](hive::response& res) { res.status(403).text("later"); }));
  h.s->resume();
  h.drain();
  const auto res = h.responses();
  REQUIRE(res.responses.size() >= 1);
  CHECK(res.responses[0].status == 403);
  CHECK(res.responses[0].body == "later");
  CHECK(res.responses[0].header("X-After") == "1");
  REQUIRE(!seen_origins.empty());
  CHECK(seen_origins[0] == "https://a.example");
}

TEST_CASE("filters: a head filter refuses before the body, and Expect: 100-continue gets its answer") {
  int body_seen = 0;
  hive::app app;
  app.use({.before = [](const hive::request& req, hive::response& res) {
             if (req.header("Authorization") == "Bearer ok") return filter_result::next;
             res.status(401).text("token\n");
             return filter_result::answered;
           },
           .at_head = true});
  app.post("/upload", [&](const hive::request& req, hive::response& res) {
    body_seen += static_cast<int>(req.body().size());
    res.status(201).text("stored");
  });
  SUBCASE("refused: 401, no 100 Continue, the connection closes without reading the body") {
    harness h(app);
    h.feed("POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    CHECK(h.out.find("100 Continue") == std::string::npos);
    const auto res = h.responses();
    REQUIRE(res.responses.size() == 1);
    CHECK(res.responses[0].status == 401);
    CHECK(res.responses[0].header("Connection") == "close");
    CHECK(hive::test::done(*h.s));
    CHECK(body_seen == 0);
  }
  SUBCASE("allowed: 100 Continue, then the handler gets the body") {
    harness h(app);
    h.feed("POST /upload HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer ok\r\nContent-Length: 5\r\n"
           "Expect: 100-continue\r\n\r\n");
    CHECK(h.out.starts_with("HTTP/1.1 100 Continue\r\n\r\n"));
    h.feed("hello");
    CHECK(body_seen == 5);
    CHECK(h.out.find("201 Created") != std::string::npos);
  }
}

TEST_CASE("filters: head filters also guard messages without a body, and their headers stay") {
  int handled = 0;
  int head_runs = 0;
  hive::app app;
  app.use({.before = [&](const hive::request& req, hive::response& res) {
             ++head_runs;
             res.header("X-Head", "1");  // kept when the filter passes
             if (req.header("Authorization") == "Bearer ok") return filter_result::next;
             res.status(401).text("token\n");
             return filter_result::answered;
           },
           .at_head = true});
  app.get("/secret", [&](const hive::request&, hive::response& res) { ++handled; res.text("s"); });
  app.post("/upload", [&](const hive::request&, hive::response& res) { ++handled; res.text("u"); });
  harness h(app);
  h.feed("GET /secret HTTP/1.1\r\nHost: h\r\n\r\n"
         "POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"
         "DELETE /secret HTTP/1.1\r\nHost: h\r\n\r\n"
         "GET /secret HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer ok\r\n\r\n"
         "POST /upload HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer ok\r\nContent-Length: 2\r\n\r\nab");
  const auto res = h.responses();
  REQUIRE(res.responses.size() == 5);
  CHECK(res.responses[0].status == 401);
  CHECK(res.responses[1].status == 401);
  CHECK(res.responses[2].status == 401);  // even the 405 of an unserved method needs the token
  CHECK(res.responses[3].status == 200);
  CHECK(res.responses[3].header("X-Head") == "1");
  CHECK(res.responses[4].status == 200);
  CHECK(res.responses[4].header("X-Head") == "1");  // set at the head, before the body came
  CHECK(handled == 2);
  CHECK(head_runs == 5);  // once per message, never twice
}

TEST_CASE("errors: the app's error handler writes 404, 405 and 500; http_error answers its status") {
  hive::app app;
  app.on_error([](int status, std::string_view message, hive::response& res) {
    res.json({{"error", message}, {"status", status}});
  });
  app.get("/a", [](const hive::request&, hive::response& res) { res.text("a"); });
  app.get("/bad", [](const hive::request&, hive::response&) { throw hive::http_error(422, "text is required"); });
  app.get("/boom", [](const hive::request&, hive::response&) { throw std::runtime_error("secret detail"); });
  app.get("/fine", [](const hive::request&, hive::response&) { throw hive::http_error(200, "no error"); });
  harness h(app);
  h.feed(filter_requests("GET", "/nope") + filter_requests("DELETE", "/a") + filter_requests("GET", "/bad") +
         filter_requests("GET", "/boom") + filter_requests("GET", "/fine"));
  const auto res = h.responses();
  REQUIRE(res.responses.size() == 5);
  CHECK(res.responses[4].status == 500);  // an http_error must carry an error status
  CHECK(nlohmann::json::parse(res.responses[4].body)["error"] == "Internal Server Error");
  CHECK(res.responses[0].status == 404);
  CHECK(res.responses[0].header("Content-Type") == "application/json");
  CHECK(nlohmann::json::parse(res.responses[0].body)["error"] == "Not Found");
  CHECK(res.responses[1].status == 405);
  CHECK(res.responses[1].header("Allow") == "GET, HEAD");
  CHECK(res.responses[2].status == 422);
  CHECK(nlohmann::json::parse(res.responses[2].body)["error"] == "text is required");
  CHECK(res.responses[3].status == 500);
  CHECK(res.responses[3].body.find("secret") == std::string::npos);
  CHECK(nlohmann::json::parse(res.responses[3].body)["error"] == "Internal Server Error");
}

TEST_CASE("routing: 405's Allow names the methods of a wildcard route that matches the path too") {
  hive::app app;
  app.get("/a", [](const hive::request&, hive::response& res) { res.text("a"); });
  app.put("/a", [](const hive::request&, hive::response& res) { res.text("a"); });
  app.options("/*", [](const hive::request&, hive::response& res) { res.status(204); });
  app.get("/*", [](const hive::request&, hive::response& res) { res.text("any"); });
  harness h(app);
  h.feed(filter_requests("DELETE", "/a") + filter_requests("DELETE", "/elsewhere"));
  const auto res = h.responses();
  REQUIRE(res.responses.size() == 2);
  CHECK(res.responses[0].status == 405);
  CHECK(res.responses[0].header("Allow") == "GET, PUT, OPTIONS, HEAD");
  CHECK(res.responses[1].header("Allow") == "OPTIONS, GET, HEAD");
}

TEST_CASE("errors: without an error handler, http_error's message is the text body") {
  hive::app app;
  app.get("/bad", [](const hive::request&, hive::response&) { throw hive::http_error(409, "already there"); });
  app.get("/odd", [](const hive::request&, hive::response&) { throw hive::http_error(302, "not an error"); });
  harness h(app);
  h.feed(filter_requests("GET", "/bad") + filter_requests("GET", "/odd"));
  const auto res = h.responses();
  REQUIRE(res.responses.size() == 2);
  CHECK(res.responses[0].status == 409);
  CHECK(res.responses[0].body == "already there\n");
  CHECK(res.responses[1].status == 500);
}

TEST_CASE("groups: prefixes add up; \"/\" is the prefix itself; bad prefixes are refused") {
  hive::app app;
  auto api = app.group("/api");
  api.get("/", [](const hive::request&, hive::response& res) { res.text("root"); });
  api.group("/v2").get("/items/:id", [](const hive::request& req, hive::response& res) { res.text(*req.param("id")); });
  CHECK_THROWS_AS(app.group("api"), std::invalid_argument);
  CHECK_THROWS_AS(app.group("/api/"), std::invalid_argument);
  CHECK_THROWS_AS(app.use(hive::filter{}), std::invalid_argument);
  harness h(app);
  h.feed(filter_requests("GET", "/api") + filter_requests("GET", "/api/v2/items/7"));
  const auto res = h.responses();
  REQUIRE(res.responses.size() == 2);
  CHECK(res.responses[0].body == "root");
  CHECK(res.responses[1].body == "7");
}

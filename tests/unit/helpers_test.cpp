// Request and response helpers: json(), form(), cookie(), res.cookie(), res.redirect().
#include <doctest/doctest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "unit/session_harness.hpp"

// g++ 12 warns when a designated initializer leaves out members that have defaults, which is how
// cookie_options is meant to be written (fixed in g++ 14).
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace helper_tests {

using hive::test::harness;

std::string helper_post(std::string_view target, std::string_view type, std::string_view body) {
  return "POST " + std::string(target) + " HTTP/1.1\r\nHost: h\r\nContent-Type: " + std::string(type) +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

const hive::app& helper_app() {
  static const hive::app a = [] {
    hive::app app;
    app.post("/json", [](const hive::request& req, hive::response& res) {
      const auto j = req.json();
      res.status(201).json({{"text", j.at("text")}});
    });
    app.post("/form", [](const hive::request& req, hive::response& res) {
      // A query value decoded first must survive the form's decoding into the same scratch.
      const auto q = req.query("q");
      const auto name = req.form("name");
      const auto missing = req.form("missing");
      res.text(std::string(q.value_or("-")) + "|" + std::string(name.value_or("-")) + "|" +
               (missing ? "present" : "absent"));
    });
    app.get("/cookie", [](const hive::request& req, hive::response& res) {
      res.text(std::string(req.cookie("sid").value_or("-")) + "|" + std::string(req.cookie("theme").value_or("-")) +
               "|" + std::string(req.cookie("nope").value_or("-")));
    });
    app.get("/set", [](const hive::request&, hive::response& res) {
      res.cookie("sid", "abc123", {.max_age = std::chrono::seconds(3600), .path = "/", .secure = true,
                                   .http_only = true, .same_site = hive::cookie_options::same_site_policy::lax});
      res.cookie("theme", "\"dark\"");
      res.text("ok");
    });
    app.get("/go", [](const hive::request&, hive::response& res) { res.redirect("/there", 303); });
    return app;
  }();
  return a;
}

}  // namespace helper_tests

using namespace helper_tests;

TEST_CASE("helpers: req.json() parses a JSON body; wrong type or malformed JSON answer 400 with a reason") {
  harness h(helper_app());
  h.feed(helper_post("/json", "application/json; charset=utf-8", R"({"text":"hi"})") +
         helper_post("/json", "text/plain", R"({"text":"hi"})") + helper_post("/json", "application/json", "{\"text\":"));
  const auto res = h.responses();
  REQUIRE(res.responses.size() == 3);
  CHECK(res.responses[0].status == 201);
  CHECK(nlohmann::json::parse(res.responses[0].body)["text"] == "hi");
  CHECK(res.responses[1].status == 400);
  CHECK(res.responses[1].body.find("application/json") != std::string::npos);
  CHECK(res.responses[1].body.find("text/plain") != std::string::npos);
  CHECK(res.responses[2].status == 400);
  CHECK(res.responses[2].body.starts_with("the body is not valid JSON: "));
  CHECK(res.responses[2].body.find("json.exception") == std::string::npos);
}

TEST_CASE("helpers: req.json() refuses nesting past 512 levels with 400 (the stack stays whole)") {
  hive::app app;
  app.post("/echo", [](const hive::request& req, hive::response& res) { res.json(req.json()); });
  harness h(app);
  const std::string deep = std::string(200000, '[') + std::string(200000, ']');
  // Appended piece by piece: g++ 12 warns (-Wrestrict, a false positive) on "x" + std::string(n, c).
  std::string ok = "{\"a\":";
  ok.append(511, '[').append("\"[[[{{{\"").append(511, ']').append("}");
  std::string over(513, '[');
  over.append(513, ']');
  h.feed(helper_post("/echo", "application/json", deep) + helper_post("/echo", "application/json", ok) +
         helper_post("/echo", "application/json", over));
  const auto res = h.responses();
  REQUIRE(res.responses.size() == 3);
  CHECK(res.responses[0].status == 400);
  CHECK(res.responses[0].body.find("deeper than 512") != std::string::npos);
  CHECK(res.responses[1].status == 200);  // 512 deep, brackets inside a string not counted
  CHECK(res.responses[2].status == 400);
}

TEST_CASE("helpers: req.form() reads urlencoded bodies only, decoded, beside the query") {
  harness h(helper_app());
  h.feed(helper_post("/form?q=a%20b", "application/x-www-form-urlencoded", "x=1&name=J%C3%BCrgen+M") +
         helper_post("/form?q=plain", "text/plain", "name=nope"));
  const auto res = h.responses();
  REQUIRE(res.responses.size() == 2);
  CHECK(res.responses[0].body == "a b|J\xC3\xBCrgen M|absent");
  CHECK(res.responses[1].body == "plain|-|absent");
}

TEST_CASE("helpers: req.cookie() reads every Cookie field, unquoting values") {
  harness h(helper_app());
  h.feed("GET /cookie HTTP/1.1\r\nHost: h\r\nCookie: a=1; sid=xyz\r\nCookie: theme=\"dark\"\r\n\r\n");
  const auto res = h.responses();
  REQUIRE(res.responses.size() == 1);
  CHECK(res.responses[0].body == "xyz|dark|-");
}

TEST_CASE("helpers: res.cookie() writes one Set-Cookie per cookie, with its attributes") {
  harness h(helper_app());
  h.feed("GET /set HTTP/1.1\r\nHost: h\r\n\r\n");
  const auto res = h.responses();
  REQUIRE(res.responses.size() == 1);
  CHECK(res.responses[0].count("Set-Cookie") == 2);
  CHECK(h.out.find("Set-Cookie: sid=abc123; Max-Age=3600; Path=/; Secure; HttpOnly; SameSite=Lax\r\n") !=
        std::string::npos);
  CHECK(h.out.find("Set-Cookie: theme=\"dark\"\r\n") != std::string::npos);
}

TEST_CASE("helpers: res.cookie() refuses what RFC 6265 forbids") {
  hive::response r;
  CHECK_THROWS_AS(r.cookie("bad name", "v"), std::invalid_argument);
  CHECK_THROWS_AS(r.cookie("", "v"), std::invalid_argument);
  CHECK_THROWS_AS(r.cookie("n", "a;b"), std::invalid_argument);
  CHECK_THROWS_AS(r.cookie("n", "a b"), std::invalid_argument);
  CHECK_THROWS_AS(r.cookie("n", "a,b"), std::invalid_argument);
  CHECK_THROWS_AS(r.cookie("n", "a\\b"), std::invalid_argument);
  CHECK_THROWS_AS(r.cookie("n", "a\r\nX-Evil: 1"), std::invalid_argument);
  CHECK_THROWS_AS(r.cookie("n", "v", {.path = "/; Domain=evil"}), std::invalid_argument);
  CHECK_THROWS_AS(r.cookie("n", "v", {.domain = "a\x01"}), std::invalid_argument);
  CHECK_THROWS_AS(r.cookie("n", "v", {.same_site = hive::cookie_options::same_site_policy::none}),
                  std::invalid_argument);
  CHECK(r.fields().empty());
  r.cookie("n", "v", {.max_age = std::chrono::seconds(-5), .secure = true,
                      .same_site = hive::cookie_options::same_site_policy::none});
  CHECK(r.fields() == "Set-Cookie: n=v; Max-Age=0; Secure; SameSite=None\r\n");
}

TEST_CASE("helpers: res.redirect() sets a 3xx and Location; other statuses are refused") {
  harness h(helper_app());
  h.feed("GET /go HTTP/1.1\r\nHost: h\r\n\r\n");
  const auto res = h.responses();
  REQUIRE(res.responses.size() == 1);
  CHECK(res.responses[0].status == 303);
  CHECK(res.responses[0].header("Location") == "/there");
  hive::response r;
  CHECK_THROWS_AS(r.redirect("/x", 200), std::invalid_argument);
  CHECK_THROWS_AS(r.redirect("/x\r\nSet-Cookie: a=b"), std::invalid_argument);
  r.redirect("/y");
  CHECK(r.status() == 302);
}

// Filters over real loopback sockets: a head-time auth filter refuses an upload before its body
// (Expect: 100-continue gets the 401), after() adds a header to every answer — hive's 404
// included — and the app's error handler writes the 404's body.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "support/client.hpp"

// g++ 12 warns when a designated initializer leaves out members that have defaults, which is how
// hive::filter is meant to be written (fixed in g++ 14).
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

using namespace std::chrono_literals;

namespace {

hive::app filtered_socket_app() {
  hive::app app;
  app.use({.after = [](const hive::request& req, hive::response& res) {
    if (auto origin = req.header("Origin")) res.header("Access-Control-Allow-Origin", *origin);
  }});
  app.on_error([](int status, std::string_view message, hive::response& res) {
    res.json({{"error", message}, {"status", status}});
  });
  auto api = app.group("/api");
  api.use({.before = [](const hive::request& req, hive::response& res) {
             if (req.header("Authorization") == "Bearer s3cret") return hive::filter_result::next;
             res.status(401).header("WWW-Authenticate", "Bearer").json({{"error", "unauthorized"}});
             return hive::filter_result::answered;
           },
           .at_head = true});
  api.post("/upload", [](const hive::request& req, hive::response& res) {
    res.status(201).json({{"bytes", req.body().size()}});
  });
  return app;
}

}  // namespace

TEST_CASE("integration: a head filter answers 401 instead of 100 Continue; after() runs on every answer") {
  const hive::app app = filtered_socket_app();
  hive::test::test_server server(app, hive::options{});
  {
    hive::test::client c(server.port());
    REQUIRE(c.send("POST /api/upload HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example\r\n"
                   "Content-Length: 900000\r\nExpect: 100-continue\r\n\r\n"));
    const auto r = c.read_responses(1, 2s);
    REQUIRE(r.responses.size() == 1);
    CHECK(r.responses[0].status == 401);
    CHECK(r.responses[0].header("WWW-Authenticate") == "Bearer");
    CHECK(r.responses[0].header("Access-Control-Allow-Origin") == "https://app.example");
  }
  {
    hive::test::client c(server.port());
    REQUIRE(c.send("POST /api/upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n"
                   "Content-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
    const auto interim = c.read_responses(1, 2s);
    REQUIRE(interim.responses.size() == 1);
    CHECK(interim.responses[0].status == 100);
    REQUIRE(c.send("hello"));
    const auto r = c.read_responses(1, 2s);
    REQUIRE(r.responses.size() == 1);
    CHECK(r.responses[0].status == 201);
    CHECK(nlohmann::json::parse(r.responses[0].body)["bytes"] == 5);
  }
  {
    hive::test::client c(server.port());
    REQUIRE(c.send("GET /nowhere HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example\r\n\r\n"));
    const auto r = c.read_responses(1, 2s);
    REQUIRE(r.responses.size() == 1);
    CHECK(r.responses[0].status == 404);
    CHECK(r.responses[0].header("Access-Control-Allow-Origin") == "https://app.example");
    CHECK(nlohmann::json::parse(r.responses[0].body)["error"] == "Not Found");
  }
}

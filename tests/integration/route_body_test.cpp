// Per-route body limits over real sockets: an upload route takes more than the server's
// max_body_bytes, a login form less; past a route's limit the answer is 413, at the head when
// Content-Length says so (no 100 Continue), and while reading for a chunked body.
#include <doctest/doctest.h>

#include <string>

#include "support/client.hpp"

// g++ 12 warns on designated initializers that leave out defaulted members (fixed in g++ 14).
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

using namespace std::chrono_literals;

namespace {

hive::app route_body_app() {
  hive::app app;
  auto size = [](const hive::request& req, hive::response& res) { res.text(std::to_string(req.body().size())); };
  app.post("/upload", size, {.max_body = 3 * 1024 * 1024});
  app.post("/login", size, {.max_body = 16 * 1024});
  app.post("/plain", size);
  app.use({.after = [](const hive::request&, hive::response& res) { res.header("X-Seen", "1"); }});
  return app;
}

int route_body_status(std::uint16_t port, std::string_view path, std::size_t n, bool chunked = false) {
  hive::test::client c(port);
  std::string req = "POST " + std::string(path) + " HTTP/1.1\r\nHost: x\r\n";
  if (chunked) {
    req += "Transfer-Encoding: chunked\r\n\r\n";
    char line[32];
    std::snprintf(line, sizeof line, "%zx\r\n", n);
    req += line + std::string(n, 'a') + "\r\n0\r\n\r\n";
  } else {
    req += "Content-Length: " + std::to_string(n) + "\r\n\r\n" + std::string(n, 'a');
  }
  c.send(req);  // may fail half way once the server refused and closed: the answer counts
  const auto r = c.read_responses(1, 5s);
  if (r.responses.empty()) return 0;
  if (r.responses[0].status == 200) CHECK(r.responses[0].body == std::to_string(n));
  CHECK(r.responses[0].header("X-Seen") == "1");
  return r.responses[0].status;
}

}  // namespace

TEST_CASE("integration: route_options::max_body raises and lowers the body limit per route") {
  const hive::app app = route_body_app();
  hive::test::test_server server(app, hive::options{});  // the server's limit: 1 MiB
  const auto port = server.port();
  CHECK(route_body_status(port, "/upload", 2 * 1024 * 1024) == 200);
  CHECK(route_body_status(port, "/upload", 3 * 1024 * 1024 + 1) == 413);
  CHECK(route_body_status(port, "/upload", 2 * 1024 * 1024, true) == 200);
  CHECK(route_body_status(port, "/plain", 1024 * 1024) == 200);
  CHECK(route_body_status(port, "/plain", 1024 * 1024 + 1) == 413);
  CHECK(route_body_status(port, "/plain", 2 * 1024 * 1024, true) == 413);
  CHECK(route_body_status(port, "/login", 16 * 1024) == 200);
  CHECK(route_body_status(port, "/login", 16 * 1024 + 1) == 413);
  CHECK(route_body_status(port, "/login", 20 * 1024, true) == 413);
  // A path with no route is held to the server's limit.
  CHECK(route_body_status(port, "/nowhere", 2 * 1024 * 1024) == 413);
}

TEST_CASE("integration: a declared body past the route's limit gets 413 instead of 100 Continue") {
  const hive::app app = route_body_app();
  hive::test::test_server server(app, hive::options{});
  hive::test::client c(server.port());
  REQUIRE(c.send("POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 20000\r\nExpect: 100-continue\r\n\r\n"));
  const auto r = c.read_responses(1, 2s);
  REQUIRE(r.responses.size() == 1);
  CHECK(r.responses[0].status == 413);
  CHECK(c.wait_closed(2s));
}

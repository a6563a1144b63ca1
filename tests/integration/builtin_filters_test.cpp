// Built-in filters and the access log over real sockets: request ids kept or made and echoed
// (hive's 404 included), CORS on a handler's answer and hive's 405 but not on requests without
// Origin, and one JSON access-log line per answer — a deferred one, hive's 404, and a request
// refused before it was routed — with the request id and a duration.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <thread>

#include <unistd.h>

#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <nlohmann/json.hpp>

#include "support/client.hpp"

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"  // g++ 12 and designated initializers

using namespace std::chrono_literals;

namespace {

hive::app bfi_app() {
  hive::app app;
  app.use(hive::filters::request_id());
  app.use(hive::filters::cors({.origins = {"https://a.example"}, .credentials = true}));
  app.get("/id", [](const hive::request& req, hive::response& res) {
    res.text(std::string(hive::filters::request_id_of(req, res)));
  });
  app.get("/later", [](const hive::request&, hive::response& res) {
    auto later = res.defer();
    asio::post(hive::worker::io(), [later]() mutable { later.finish([](hive::response& r) { r.text("late"); }); });
  });
  return app;
}

hive::test::parsed_response bfi_get(std::uint16_t port, const std::string& path, const std::string& headers = {}) {
  hive::test::client c(port);
  c.send("GET " + path + " HTTP/1.1\r\nHost: x\r\n" + headers + "\r\n");
  auto r = c.read_responses(1, 2s);
  REQUIRE(r.responses.size() == 1);
  return r.responses[0];
}

}  // namespace

TEST_CASE("integration: request ids, CORS on every answer, and a JSON access log line per answer") {
  char dir[] = "/tmp/hive-bfi-XXXXXX";
  REQUIRE(::mkdtemp(dir) != nullptr);
  const std::string path = std::string(dir) + "/access.log";
  hive::options o;
  o.access_log = hive::options::access_log_format::json;
  o.access_log_file = path;
  const hive::app app = bfi_app();
  std::string made_id;
  {
    hive::test::test_server server(app, o);
    const auto port = server.port();

    const auto kept = bfi_get(port, "/id", "X-Request-Id: abc-123\r\nUser-Agent: t\"est\r\n");
    CHECK(kept.header("X-Request-Id") == "abc-123");
    CHECK(kept.body == "abc-123");
    CHECK_FALSE(kept.header("Access-Control-Allow-Origin").has_value());  // no Origin: untouched
    const auto made = bfi_get(port, "/id", "X-Request-Id: bad id\r\n");
    const std::string id = made.header("X-Request-Id").value_or("");
    CHECK(id.size() > 12);
    CHECK(id != "bad id");
    CHECK(made.body == id);
    made_id = id;
    const auto missing = bfi_get(port, "/nowhere", "Origin: https://a.example\r\n");
    CHECK(missing.status == 404);
    CHECK(missing.header("X-Request-Id").has_value());
    CHECK(missing.header("Access-Control-Allow-Origin") == "https://a.example");
    CHECK(missing.header("Access-Control-Allow-Credentials") == "true");
    CHECK(missing.header("Vary") == "Origin");
    hive::test::client post(port);
    post.send("POST /id HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example\r\nContent-Length: 0\r\n\r\n");
    const auto not_allowed = post.read_responses(1, 2s);
    REQUIRE(not_allowed.responses.size() == 1);
    CHECK(not_allowed.responses[0].status == 405);
    CHECK_FALSE(not_allowed.responses[0].header("Access-Control-Allow-Origin").has_value());
    CHECK(not_allowed.responses[0].header("Vary") == "Origin");  // a cache must not reuse it for an allowed origin
    const auto pre = bfi_get(port, "/id", "Origin: https://a.example\r\nAccess-Control-Request-Method: PUT\r\n"
                                          "Access-Control-Request-Headers: X-Custom\r\n");
    CHECK(pre.status == 200);  // a GET is no preflight: the handler answers
    CHECK(bfi_get(port, "/later").body == "late");
    // Refused before routing: a malformed request line.
    hive::test::client bad(port);
    bad.send("GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(bad.read_responses(1, 2s).responses.size() == 1);
    std::this_thread::sleep_for(300ms);  // the 100 ms flush
  }
  std::ifstream in(path);
  std::vector<nlohmann::json> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  REQUIRE(lines.size() == 7);
  CHECK(lines[0]["target"] == "/id");
  CHECK(lines[0]["request_id"] == "abc-123");
  CHECK(lines[0]["user_agent"] == "t\"est");
  CHECK(lines[0]["client"] == "127.0.0.1");
  CHECK(lines[0]["bytes"] == 7);
  CHECK(lines[0]["duration_us"].get<long>() >= 0);
  CHECK(lines[1]["request_id"] == made_id);
  CHECK(lines[2]["status"] == 404);
  CHECK(lines[3]["status"] == 405);
  CHECK(lines[5]["target"] == "/later");
  CHECK(lines[5]["status"] == 200);
  CHECK(lines[6]["status"] == 400);
  CHECK(lines[6]["method"] == "");
  CHECK(lines[6]["client"] == "127.0.0.1");  // refused before routing, its peer is still known
  ::unlink(path.c_str());
  ::rmdir(dir);
}

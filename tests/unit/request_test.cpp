// hive::request's reads: absence is nullopt for query(), header() and param() alike; query values
// are views of the target when there is nothing to decode and decoded into the request's own
// scratch when there is, which keeps earlier values valid and allocates nothing in the steady state.
#include <doctest/doctest.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "unit/array_allocations.hpp"
#include "unit/session_harness.hpp"

using hive::test::harness;

namespace {

// What the handler under test does with the request; set by each test case.
std::function<void(const hive::request&)> look;

const hive::app& request_app() {
  static const hive::app a = [] {
    hive::app app;
    app.get("/q", [](const hive::request& req, hive::response& res) {
      look(req);
      res.text("ok");
    });
    app.get("/items/:id/*", [](const hive::request& req, hive::response& res) {
      look(req);
      res.text("ok");
    });
    return app;
  }();
  return a;
}

std::string get(std::string_view target) {
  return "GET " + std::string(target) + " HTTP/1.1\r\nHost: a\r\n\r\n";
}

bool within(std::string_view inner, std::string_view outer) {
  return inner.data() >= outer.data() && inner.data() + inner.size() <= outer.data() + outer.size();
}

}  // namespace

TEST_CASE("request: query, header and param all say absent with nullopt") {
  harness h(request_app());
  int seen = 0;
  look = [&](const hive::request& req) {
    ++seen;
    CHECK(req.query("none") == std::nullopt);
    CHECK(req.header("X-None") == std::nullopt);
    CHECK(req.param("none") == std::nullopt);
    CHECK(req.query("bare") == "");    // `?bare`: present, empty
    CHECK(req.query("empty") == "");   // `?empty=`: present, empty
    CHECK(req.header("Host") == "a");
    CHECK(req.param("id") == "7 x");   // percent-decoded
    CHECK(req.param("*") == "");       // an empty tail is present
  };
  h.feed(get("/items/7%20x/?bare&empty="));
  CHECK(seen == 1);
}

TEST_CASE("request: query values are views of the target unless they need decoding") {
  harness h(request_app());
  int seen = 0;
  look = [&](const hive::request& req) {
    ++seen;
    const auto plain = req.query("plain");
    REQUIRE(plain);
    CHECK(*plain == "v1");
    CHECK(within(*plain, req.target()));

    const auto a = req.query("a");
    const auto b = req.query("b");
    const auto again = req.query("a");  // asking twice gives the same bytes
    REQUIRE(a);
    REQUIRE(b);
    REQUIRE(again);
    CHECK(!within(*a, req.target()));
    CHECK(*b == "+c&");
    CHECK(*a == "x y!");  // still valid after other values were decoded
    CHECK(*again == "x y!");
    CHECK(again->data() == a->data());

    CHECK(req.query("first") == "1");          // the first of repeated names
    CHECK(req.query("key with space") == "k");  // names are decoded too
    CHECK(req.query("bad") == "100%zz");       // a malformed escape is passed on as sent
    CHECK(req.query("%zz") == std::nullopt);   // a malformed name matches nothing
  };
  h.feed(get("/q?plain=v1&a=x+y%21&first=1&b=%2Bc%26&first=2&key+with%20space=k&bad=100%zz&%zz=1"
             "&b=no"));
  CHECK(seen == 1);
}

TEST_CASE("request: decoding query values allocates nothing once the scratch has grown") {
  harness h(request_app());
  std::size_t during = 0;
  look = [&](const hive::request& req) {
    const auto before = hive::test::array_allocations();
    CHECK(req.query("a") == "x y");
    CHECK(req.query("b") == "/");
    CHECK(req.query("c") == "z");
    during = hive::test::array_allocations() - before;
  };
  h.feed(get("/q?a=x+y&b=%2F&c=z"));
  CHECK(during == 1);  // the first decode on fresh buffers makes the scratch
  // The steady state: the buffers come back from the pool with the scratch they grew, and a
  // query no longer than the last one fits in it; nor does the rest of the session make an array.
  const auto before = hive::test::array_allocations();
  h.feed(get("/q?a=x+y&b=%2F&c=z"));
  h.feed(get("/q?c=z&a=x%20y&b=/"));
  CHECK(during == 0);
  CHECK(hive::test::array_allocations() == before);
  CHECK(h.responses().responses.size() == 3);
}

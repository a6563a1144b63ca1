#include <doctest/doctest.h>

#include <stdexcept>

#include <hive/router.hpp>

#include "app/route_match.hpp"

namespace {

struct fixture {
  hive::router r;
  hive::detail::route_state m;
  const std::vector<hive::route_param>& params = m.params;
  std::string hit;

  hive::handler tag(std::string name) {
    return [this, name](const hive::request&, hive::response&) { hit = name; };
  }
  const hive::detail::route_state& find(std::string_view method, std::string_view path) {
    m.scratch.clear();
    m.scratch.reserve(path.size());
    m.params.clear();
    m.allow.clear();
    hive::detail::find_route(r, method, path, m);
    if (m.target != nullptr) {
      hive::request req;
      hive::response res;  // the tag handlers only record which one ran
      (*m.target)(req, res);
    }
    return m;
  }
  std::string_view param(std::string_view name) const {
    for (const auto& p : params) {
      if (p.name == name) return p.value;
    }
    return "<absent>";
  }
};

}  // namespace

TEST_CASE("router: literal, parameter and wildcard segments, most specific first") {
  fixture f;
  f.r.add("GET", "/", f.tag("root"));
  f.r.add("GET", "/users/me", f.tag("me"));
  f.r.add("GET", "/users/:id", f.tag("user"));
  f.r.add("GET", "/users/:id/files/*", f.tag("files"));
  f.r.add("GET", "/static/*", f.tag("static"));

  CHECK(f.find("GET", "/").target != nullptr);
  CHECK(f.hit == "root");
  CHECK(f.find("GET", "/users/me").target != nullptr);
  CHECK(f.hit == "me");
  CHECK(f.find("GET", "/users/42").target != nullptr);
  CHECK(f.hit == "user");
  CHECK(f.param("id") == "42");
  CHECK(f.find("GET", "/users/42/files/a/b.txt").target != nullptr);
  CHECK(f.hit == "files");
  CHECK(f.param("id") == "42");
  CHECK(f.param("*") == "a/b.txt");
  CHECK(f.find("GET", "/static/").target != nullptr);
  CHECK(f.param("*") == "");
  CHECK(f.find("GET", "/static").status == 404);
  CHECK(f.find("GET", "/users").status == 404);
  CHECK(f.find("GET", "/users/42/").status == 404);
  CHECK(f.find("GET", "/nope").status == 404);
}

TEST_CASE("router: parameters are percent-decoded, malformed escapes passed on") {
  fixture f;
  f.r.add("GET", "/u/:name", f.tag("u"));
  CHECK(f.find("GET", "/u/John%20Doe").target != nullptr);
  CHECK(f.param("name") == "John Doe");
  CHECK(f.find("GET", "/u/100%zz").target != nullptr);
  CHECK(f.param("name") == "100%zz");
  CHECK(f.find("GET", "/u/a+b").target != nullptr);
  CHECK(f.param("name") == "a+b");  // `+` is a space only in queries
}

TEST_CASE("router: backtracks from a literal to a parameter") {
  fixture f;
  f.r.add("GET", "/a/b/c", f.tag("abc"));
  f.r.add("GET", "/a/:x/d", f.tag("axd"));
  CHECK(f.find("GET", "/a/b/d").target != nullptr);
  CHECK(f.hit == "axd");
  CHECK(f.param("x") == "b");
  CHECK(f.params.size() == 1);
}

TEST_CASE("router: 405 with Allow when only the method differs; HEAD falls back to GET") {
  fixture f;
  f.r.add("GET", "/items", f.tag("get"));
  f.r.add("POST", "/items", f.tag("post"));
  auto m = f.find("DELETE", "/items");
  CHECK(m.target == nullptr);
  CHECK(m.status == 405);
  CHECK(m.allow == "GET, POST, HEAD");
  CHECK(f.find("HEAD", "/items").target != nullptr);
  CHECK(f.hit == "get");
  f.r.add("PUT", "/only-put", f.tag("put"));
  CHECK(f.find("HEAD", "/only-put").status == 405);
  CHECK(f.find("HEAD", "/only-put").allow == "PUT");
}

TEST_CASE("router: bad patterns are refused at start-up") {
  fixture f;
  CHECK_THROWS_AS(f.r.add("GET", "no-slash", f.tag("x")), std::invalid_argument);
  CHECK_THROWS_AS(f.r.add("GET", "/a/*/b", f.tag("x")), std::invalid_argument);
  CHECK_THROWS_AS(f.r.add("GET", "/a/:", f.tag("x")), std::invalid_argument);
  CHECK_THROWS_AS(f.r.add("G T", "/a", f.tag("x")), std::invalid_argument);
  f.r.add("GET", "/a/:id", f.tag("x"));
  CHECK_THROWS_AS(f.r.add("POST", "/a/:name", f.tag("x")), std::invalid_argument);
  CHECK_THROWS_AS(f.r.add("GET", "/a/:id", f.tag("x")), std::invalid_argument);
}

TEST_CASE("router: a parameter matches one non-empty segment") {
  fixture f;
  f.r.add("GET", "/item/:id", f.tag("item"));
  f.r.add("GET", "/users/:id/files", f.tag("files"));
  CHECK(f.find("GET", "/item/x").target != nullptr);
  CHECK(f.param("id") == "x");
  CHECK(f.find("GET", "/item/").status == 404);
  CHECK(f.params.empty());
  CHECK(f.find("GET", "/users//files").status == 404);  // an empty segment in the middle, too
  CHECK(f.find("GET", "/users/7/files").target != nullptr);
}

TEST_CASE("router: an empty segment falls through from a parameter to a wildcard") {
  fixture f;
  f.r.add("GET", "/item/:id", f.tag("item"));
  f.r.add("GET", "/item/*", f.tag("rest"));
  CHECK(f.find("GET", "/item/").target != nullptr);
  CHECK(f.hit == "rest");
  CHECK(f.param("*") == "");
  CHECK(f.param("id") == "<absent>");
  CHECK(f.find("GET", "/item/x").target != nullptr);
  CHECK(f.hit == "item");
  CHECK(f.param("id") == "x");
}

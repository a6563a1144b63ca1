// RFC 9110's rules for files as pure functions: dates, entity tags, preconditions, ranges and
// content-coding negotiation.
#include <doctest/doctest.h>

#include "app/file_rules.hpp"

namespace filerules = hive::detail;

TEST_CASE("file rules: HTTP dates in the three forms, and nonsense refused") {
  const auto t = filerules::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT");
  REQUIRE(t);
  CHECK(*t == 784111777);
  CHECK(filerules::parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT") == t);
  CHECK(filerules::parse_http_date("Sun Nov  6 08:49:37 1994") == t);
  CHECK(filerules::http_date(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT");
  CHECK(!filerules::parse_http_date("yesterday"));
  CHECK(!filerules::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT trailing"));
  CHECK(!filerules::parse_http_date("Sun, 06 Foo 1994 08:49:37 GMT"));
}

TEST_CASE("file rules: entity tag comparison, strong and weak") {
  CHECK(filerules::etag_list_matches("\"a\", \"b\"", "\"b\"", false));
  CHECK(!filerules::etag_list_matches("W/\"b\"", "\"b\"", false));
  CHECK(filerules::etag_list_matches("W/\"b\"", "\"b\"", true));
  CHECK(filerules::etag_list_matches(" * ", "\"b\"", false));
  CHECK(!filerules::etag_list_matches("\"bb\"", "\"b\"", true));
}

TEST_CASE("file rules: preconditions in RFC 9110 §13.2.2's order") {
  const filerules::validators v{"\"x\"", 1000};
  filerules::conditional_headers h;
  CHECK(filerules::evaluate(h, v, true) == filerules::precondition::proceed);
  h.if_match = "\"y\"";
  h.if_none_match = "\"x\"";
  CHECK(filerules::evaluate(h, v, true) == filerules::precondition::failed);  // If-Match first
  h.if_match = "\"x\"";
  CHECK(filerules::evaluate(h, v, true) == filerules::precondition::not_modified);
  CHECK(filerules::evaluate(h, v, false) == filerules::precondition::failed);  // If-None-Match on a PUT: 412
  filerules::conditional_headers ims;
  ims.if_modified_since = "Thu, 01 Jan 1970 00:16:40 GMT";  // 1000
  CHECK(filerules::evaluate(ims, v, true) == filerules::precondition::not_modified);
  ims.if_modified_since = "Thu, 01 Jan 1970 00:16:39 GMT";
  CHECK(filerules::evaluate(ims, v, true) == filerules::precondition::proceed);
  filerules::conditional_headers ius;
  ius.if_unmodified_since = "Thu, 01 Jan 1970 00:16:39 GMT";
  CHECK(filerules::evaluate(ius, v, true) == filerules::precondition::failed);
  ius.if_unmodified_since = "not a date";  // ignored
  CHECK(filerules::evaluate(ius, v, true) == filerules::precondition::proceed);
}

TEST_CASE("file rules: ranges") {
  const auto one = [](std::string_view h, std::uint64_t size) { return filerules::parse_range(h, size); };
  auto r = one("bytes=0-99", 1000);
  CHECK(r.kind == filerules::range_kind::single);
  CHECK(r.range.first == 0);
  CHECK(r.range.length == 100);
  r = one("bytes=-10", 1000);
  CHECK((r.kind == filerules::range_kind::single && r.range.first == 990 && r.range.length == 10));
  r = one("bytes=990-", 1000);
  CHECK((r.kind == filerules::range_kind::single && r.range.first == 990 && r.range.length == 10));
  r = one("BYTES=5-2000", 1000);
  CHECK((r.kind == filerules::range_kind::single && r.range.length == 995));
  CHECK(one("bytes=1000-", 1000).kind == filerules::range_kind::unsatisfiable);
  CHECK(one("bytes=-0", 1000).kind == filerules::range_kind::unsatisfiable);
  CHECK(one("bytes=0-0", 0).kind == filerules::range_kind::unsatisfiable);
  CHECK(one("bytes=18446744073709551616-", 1000).kind == filerules::range_kind::unsatisfiable);  // past 64 bits
  CHECK(one("bytes=-99999999999999999999", 1000).kind == filerules::range_kind::single);  // the whole file
  CHECK(one("bytes=0-1,5-6", 1000).kind == filerules::range_kind::several);
  CHECK(one("bytes=2000-3000,0-1", 1000).kind == filerules::range_kind::several);
  for (auto bad : {"bytes=5-1", "bytes=x-1", "lines=0-1", "bytes=", "bytes=1", "bytes=--1"}) {
    CHECK_MESSAGE(one(bad, 1000).kind == filerules::range_kind::none, bad);
  }
  const filerules::validators v{"\"x\"", 784111777};
  CHECK(filerules::if_range_holds("\"x\"", v));
  CHECK(!filerules::if_range_holds("W/\"x\"", v));
  CHECK(filerules::if_range_holds("Sun, 06 Nov 1994 08:49:37 GMT", v));
  CHECK(!filerules::if_range_holds("Sun, 06 Nov 1994 08:49:38 GMT", v));
}

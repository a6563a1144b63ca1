// The RFC 9110 text rules in util/text.hpp: tokens, case-insensitive compare, optional
// whitespace, comma lists, Host syntax and percent-decoding.
#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

#include "util/text.hpp"

namespace d = hive::detail;

TEST_CASE("text: is_token accepts tchar only, and not the empty string") {
  CHECK(d::is_token("GET"));
  CHECK(d::is_token("X-Custom_Header.1"));
  CHECK(d::is_token("!#$%&'*+-.^_`|~"));
  CHECK(!d::is_token(""));
  CHECK(!d::is_token("a b"));
  CHECK(!d::is_token("a:b"));
  CHECK(!d::is_token("a\tb"));
  for (const char c : std::string("()<>@,;\\\"/[]?={}")) {
    CAPTURE(c);
    CHECK(!d::is_token(std::string(1, c)));
  }
  CHECK(!d::is_token(std::string("a\0b", 3)));
  CHECK(!d::is_token("\x7f"));
  CHECK(!d::is_token("caf\xc3\xa9"));  // obs-text is not a token
}

TEST_CASE("text: iequals folds ASCII case only") {
  CHECK(d::iequals("Content-Length", "content-length"));
  CHECK(d::iequals("CHUNKED", "chunked"));
  CHECK(d::iequals("", ""));
  CHECK(!d::iequals("chunked", "chunke"));
  CHECK(!d::iequals("close", "clos3"));
  // '@' and '`' sit next to the letters: folding them with a bit trick would match.
  CHECK(!d::iequals("@", "`"));
  CHECK(!d::iequals("[", "{"));
  CHECK(!d::iequals("\xc3\x89", "\xc3\xa9"));  // É and é: bytes, not Unicode
}

TEST_CASE("text: trim_ows removes spaces and tabs at both ends only") {
  CHECK(d::trim_ows("  value\t ") == "value");
  CHECK(d::trim_ows("\t\ta b\t") == "a b");
  CHECK(d::trim_ows("   ").empty());
  CHECK(d::trim_ows("").empty());
  CHECK(d::trim_ows("x") == "x");
  CHECK(d::trim_ows("\r\nx\r\n") == "\r\nx\r\n");  // CR and LF are not OWS
}

TEST_CASE("text: for_each_list_item gives the non-empty, trimmed elements in order") {
  const auto items = [](std::string_view list) {
    std::vector<std::string> out;
    d::for_each_list_item(list, [&](std::string_view item) { out.emplace_back(item); });
    return out;
  };
  CHECK(items("gzip, chunked") == std::vector<std::string>{"gzip", "chunked"});
  CHECK(items("keep-alive,close") == std::vector<std::string>{"keep-alive", "close"});
  CHECK(items(" ,a,, \t,b ,") == std::vector<std::string>{"a", "b"});
  CHECK(items("\tclose\t") == std::vector<std::string>{"close"});
  CHECK(items("").empty());
  CHECK(items(",,,").empty());
  CHECK(items("a b, c") == std::vector<std::string>{"a b", "c"});
}

TEST_CASE("text: valid_host is uri-host [ \":\" port ] without userinfo") {
  for (const char* ok : {"example.com", "example.com:8080", "127.0.0.1", "127.0.0.1:80", "a",
                         "[::1]", "[::1]:8000", "[2001:db8::7]", "xn--bcher-kva.example",
                         "host:", "sub-delims!$&'()*+,;=", "pct%41"}) {
    CAPTURE(ok);
    CHECK(d::valid_host(ok));
  }
  CHECK(d::valid_host(""));  // empty is the caller's business (an empty Host is refused there)
  for (const char* bad : {"user@example.com", "a b", "host:80a", "host:8:80", "[::1", "[::1]x",
                          "[::1]:8x", "[::1%eth0]", "[]", "[zz]", "[1.2.3.4]", "[::1::2]", "host/path", "host?q", "host#f", "\"quoted\"",
                          "tab\there"}) {
    CAPTURE(bad);
    CHECK(!d::valid_host(bad));
  }
  // A NUL anywhere is refused, inside an IP-literal too (where inet_pton would stop at it).
  using namespace std::string_view_literals;
  for (const auto bad : {"[::1\0zz]"sv, "[::1\0]:80"sv, "a\0b"sv, "a:8\0"sv}) {
    CAPTURE(bad);
    CHECK(!d::valid_host(bad));
  }
}

TEST_CASE("text: percent_decode decodes %XX, and + only when asked") {
  const auto decode = [](std::string_view in, bool plus) {
    std::string out;
    REQUIRE(d::percent_decode(in, out, plus));
    return out;
  };
  CHECK(decode("plain", false) == "plain");
  CHECK(decode("", false).empty());
  CHECK(decode("a%20b", false) == "a b");
  CHECK(decode("%41%42%43", false) == "ABC");
  CHECK(decode("%4a%4A", false) == "JJ");  // either case of hex digit
  CHECK(decode("%2F%25", false) == "/%");
  CHECK(decode("%00", false) == std::string(1, '\0'));
  CHECK(decode("%ff", false) == "\xff");
  CHECK(decode("a+b", false) == "a+b");
  CHECK(decode("a+b", true) == "a b");
  CHECK(decode("%2B+", true) == "+ ");  // an encoded plus stays a plus

  std::string out = "kept:";
  REQUIRE(d::percent_decode("x%21", out, false));
  CHECK(out == "kept:x!");  // appends
}

TEST_CASE("text: percent_decode refuses a malformed escape and appends nothing after it") {
  for (const char* bad : {"%", "%4", "%zz", "%4g", "%g4", "abc%", "abc%2", "%%41", "% 41"}) {
    CAPTURE(bad);
    std::string out;
    CHECK(!d::percent_decode(bad, out, false));
    CHECK(!d::percent_decode(bad, out, true));
  }
  // The escape is checked against the view's end, not whatever byte lies after it.
  std::string out;
  CHECK(!d::percent_decode(std::string_view("ab%4A", 4), out, false));
  CHECK(out == "ab");
  out.clear();
  CHECK(!d::percent_decode("ok+%41%zz%42", out, true));
  CHECK(out == "ok A");  // what came before the bad escape, and nothing from it on
}

TEST_CASE("text: percent_decode into memory writes the decoded bytes and says how many") {
  const auto decode = [](std::string_view in, bool plus) -> std::optional<std::string> {
    std::string room(in.size(), '#');
    const auto n = d::percent_decode(in, room.data(), plus);
    if (!n) return std::nullopt;
    CHECK(room.substr(*n) == std::string(in.size() - *n, '#'));  // nothing past what it decoded
    return room.substr(0, *n);
  };
  CHECK(decode("plain", true) == "plain");
  CHECK(decode("", true) == "");
  CHECK(decode("x+y%21", true) == "x y!");
  CHECK(decode("x+y%21", false) == "x+y!");
  CHECK(decode("%2B+", true) == "+ ");
  for (const char* bad : {"%", "%4", "%zz", "abc%2", "%%41"}) {
    CAPTURE(bad);
    CHECK(!decode(bad, true));
  }
}

TEST_CASE("text: percent_decodes_to compares what a text decodes to, a malformed one with nothing") {
  CHECK(d::percent_decodes_to("name", "name", true));
  CHECK(d::percent_decodes_to("", "", true));
  CHECK(d::percent_decodes_to("%6Eame", "name", true));
  CHECK(d::percent_decodes_to("a+b", "a b", true));
  CHECK(!d::percent_decodes_to("a+b", "a b", false));
  CHECK(d::percent_decodes_to("a+b", "a+b", false));
  CHECK(!d::percent_decodes_to("name", "nam", true));    // longer
  CHECK(!d::percent_decodes_to("nam", "name", true));    // shorter
  CHECK(!d::percent_decodes_to("%6E", "", true));
  CHECK(!d::percent_decodes_to("nbme", "name", true));
  CHECK(!d::percent_decodes_to("name%zz", "name%zz", true));  // malformed: equal to nothing
  CHECK(!d::percent_decodes_to("na%", "na%", true));
}

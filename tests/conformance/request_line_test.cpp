// Request-line grammar (RFC 9112 §2-§3, RFC 9110 §2.5, §9.1): methods, the single SPs, the four
// request-target forms and the version.
#include <doctest/doctest.h>

#include "conformance/probe.hpp"

using conformance::fixture;
using conformance::get;

using conformance::all_rejected;
using conformance::bad;

TEST_CASE_FIXTURE(fixture, "RFC 9112 §3: a well-formed request line is served") {
  const auto o = served(get("/") + get("/a/b?c=d"), {200, 200});
  CHECK(o.responses[0].body == "Hello, world!\n");
}

TEST_CASE_FIXTURE(fixture, "RFC 9110 §9.1: the method is a case-sensitive token; unknown ones get 501") {
  all_rejected(*this, {
      {"control character", "G\x01T / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"non-token character", "GE@T / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"8-bit byte", "G\xc3\xa9T / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"unknown token", "BREW / HTTP/1.1\r\nHost: a\r\n\r\n", 501},
      {"lower-case get is another method", "get / HTTP/1.1\r\nHost: a\r\n\r\n", 501},
      {"empty method", " / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
  });
}

TEST_CASE_FIXTURE(fixture, "RFC 9112 §3: exactly one SP between method, target and version") {
  all_rejected(*this, {
      {"two SP after the method", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"two SP after the target", "GET /  HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"HTAB for SP", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"SP after the version", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400},
      {"SP before the method", " GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"SP inside the target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
  });
}

TEST_CASE_FIXTURE(fixture, "RFC 9112 §2.2: the request line ends in CRLF (no bare LF or CR; strict)") {
  all_rejected(*this, {
      {"bare LF", "GET / HTTP/1.1\nHost: a\r\n\r\n", 400},
      {"bare CR", "GET / HTTP/1.1\rHost: a\r\n\r\n", 400},
      {"bare LF before the request line", "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
  });
}

TEST_CASE_FIXTURE(fixture, "RFC 9112 §2.2: empty lines before the request line are ignored") {
  served("\r\n\r\n" + get("/"), {200});
}

TEST_CASE_FIXTURE(fixture, "RFC 9112 §3.2.1: origin-form holds no fragment, control or 8-bit bytes") {
  all_rejected(*this, {
      {"fragment", get("/a#b"), 400},
      {"NUL", conformance::bytes("GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n"), 400},
      {"control character", get("/a\x01" "b"), 400},
      {"DEL", get("/a\x7f" "b"), 400},
      {"8-bit byte", get("/a\xff" "b"), 400},
      {"empty target", "GET  HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"relative path", get("a/b"), 400},
  });
  served(get("//double/slash") + get("/p?q=1&r"), {200, 200});
}

TEST_CASE_FIXTURE(fixture, "RFC 9112 §3.2.2: absolute-form is served; its host wins over Host") {
  served(get("http://a/x") + get("http://other.example:8080/x?y") + get("HTTPS://a") +
             get("http://[::1]/"),
         {200, 200, 200, 200});
}

TEST_CASE_FIXTURE(fixture, "RFC 9110 §4.2: absolute-form needs an http(s) scheme, a host, no userinfo") {
  all_rejected(*this, {
      {"userinfo (RFC 9110 §4.2.4)", get("http://user:pw@a/"), 400},
      {"empty host (RFC 9110 §4.2.1)", get("http:///x"), 400},
      {"another scheme", get("ftp://a/x"), 400},
      {"no //", get("http:a/x"), 400},
      {"fragment", get("http://a/x#y"), 400},
  });
}

TEST_CASE_FIXTURE(fixture, "RFC 9112 §3.2: absolute-form still needs a Host header in HTTP/1.1") {
  rejected("GET http://a/ HTTP/1.1\r\n\r\n", 400);
}

TEST_CASE_FIXTURE(fixture, "RFC 9112 §3.2.3: authority-form is only for CONNECT") {
  rejected(get("a:80"), 400);
  // hive proxies nothing: CONNECT has no route, and a connection that asked to become a tunnel
  // is closed after the answer.
  const auto o = probe("CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n");
  REQUIRE(o.responses.size() == 1);
  CHECK(o.responses[0].status >= 400);
  CHECK(o.closed);
}

TEST_CASE_FIXTURE(fixture, "RFC 9112 §3.2.4: asterisk-form is only for OPTIONS") {
  served("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", {200});
  all_rejected(*this, {
      {"GET *", get("*"), 400},
      {"POST *", "POST * HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", 400},
      {"OPTIONS *x", "OPTIONS *x HTTP/1.1\r\nHost: a\r\n\r\n", 400},
  });
}

TEST_CASE_FIXTURE(fixture, "RFC 9112 §2.3: HTTP-version is HTTP/DIGIT.DIGIT, case-sensitive") {
  all_rejected(*this, {
      {"lower-case name", "GET / http/1.1\r\nHost: a\r\n\r\n", 400},
      {"two-digit minor", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400},
      {"leading zero", "GET / HTTP/01.1\r\nHost: a\r\n\r\n", 400},
      {"no minor", "GET / HTTP/2\r\nHost: a\r\n\r\n", 400},
      {"no version", "GET / \r\nHost: a\r\n\r\n", 400},
      {"an HTTP/0.9 request line", "GET /\r\n", 400},
      {"garbage version", "GET / HTTX/1.1\r\nHost: a\r\n\r\n", 400},
  });
}

TEST_CASE_FIXTURE(fixture, "RFC 9110 §15.6.6: a major version other than 1 gets 505") {
  all_rejected(*this, {
      {"HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
      {"HTTP/3.0", "GET / HTTP/3.0\r\nHost: a\r\n\r\n", 505},
      {"HTTP/0.9 spelled out", "GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505},
      {"the HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400},
  });
}

TEST_CASE_FIXTURE(fixture, "RFC 9110 §2.5: a later HTTP/1.x minor is served as HTTP/1.1") {
  const auto o = served("GET / HTTP/1.2\r\nHost: a\r\n\r\nGET / HTTP/1.9\r\nHost: a\r\n\r\n", {200, 200});
  CHECK(o.responses[0].version == "HTTP/1.1");
  CHECK(!o.responses[0].header("Connection"));  // 1.1 semantics: persistent
}

TEST_CASE_FIXTURE(fixture, "RFC 9112 §3: a request-target over the limit gets 414") {
  rejected(get("/" + std::string(9000, 'a')), 414);
}

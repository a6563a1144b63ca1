// Header section syntax (RFC 9112 §5, RFC 9110 §5) and the Host rules (RFC 9112 §3.2, RFC 9110
// §7.2).
#include <doctest/doctest.h>

#include "conformance/probe.hpp"

using conformance::fixture;
using conformance::get;

using conformance::all_rejected;
using conformance::bad;

namespace {

std::string with_host(std::string_view host_lines, std::string_view version = "HTTP/1.1") {
  return "GET / " + std::string(version) + "\r\n" + std::string(host_lines) + "\r\n";
}
}  // namespace

TEST_CASE_FIXTURE(fixture, "RFC 9112 §5.1: no whitespace between field name and colon") {
  all_rejected(*this, {
      {"SP", get("/", "X-A : b\r\n"), 400},
      {"HTAB", get("/", "X-A\t: b\r\n"), 400},
      {"SP before Host's colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},
      {"SP before Transfer-Encoding's colon",
       "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400},
  });
}

TEST_CASE_FIXTURE(fixture, "RFC 9112 §5.2: obs-fold is refused with 400") {
  all_rejected(*this, {
      {"SP continuation", get("/", "X: a\r\n b\r\n"), 400},
      {"HTAB continuation", get("/", "X: a\r\n\tb\r\n"), 400},
      {"continuation after an empty value", get("/", "X:\r\n b\r\n"), 400},
      {"first field line starts with SP", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400},
      {"folded Transfer-Encoding",
       "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n", 400},
  });
}

TEST_CASE_FIXTURE(fixture, "RFC 9112 §2.2: field lines end in CRLF; bare CR and bare LF are refused") {
  all_rejected(*this, {
      {"bare CR in a value", get("/", "X: a\rb\r\n"), 400},
      {"bare LF between fields", "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", 400},
      {"bare LF as the empty line", "GET / HTTP/1.1\r\nHost: a\r\n\n", 400},
      {"LF CR LF", "GET / HTTP/1.1\r\nHost: a\n\r\n", 400},
      {"CR CR LF", "GET / HTTP/1.1\r\nHost: a\r\r\n", 400},
  });
}

TEST_CASE_FIXTURE(fixture, "RFC 9110 §5.5: field values hold no NUL, CTL or DEL; obs-text passes") {
  all_rejected(*this, {
      {"NUL", conformance::bytes("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n"), 400},
      {"control character", get("/", "X: a\x01" "b\r\n"), 400},
      {"vertical tab", get("/", "X: a\x0b" "b\r\n"), 400},
      {"DEL", get("/", "X: a\x7f" "b\r\n"), 400},
      {"escape", get("/", "X: \x1b[31m\r\n"), 400},
  });
  served(get("/", "X: caf\xc3\xa9\r\nY: \t spaced \t\r\nZ:\r\n"), {200});
}

TEST_CASE_FIXTURE(fixture, "RFC 9110 §5.1: a field name is a non-empty token") {
  all_rejected(*this, {
      {"empty name", get("/", ": x\r\n"), 400},
      {"separator in the name", get("/", "X(y): x\r\n"), 400},
      {"8-bit byte in the name", get("/", "X\xffy: x\r\n"), 400},
      {"no colon", get("/", "Xfoo\r\n"), 400},
      {"NUL in the name", conformance::bytes("GET / HTTP/1.1\r\nHost: a\r\nX\0: b\r\n\r\n"), 400},
  });
  served(get("/", "X-Odd!#$%&'*+.^_`|~9: ok\r\n"), {200});
}

TEST_CASE_FIXTURE(fixture, "RFC 9112 §3.2: HTTP/1.1 without Host gets 400; HTTP/1.0 may omit it") {
  rejected(with_host(""), 400);
  served("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", {200});
}

TEST_CASE_FIXTURE(fixture, "RFC 9112 §3.2: more than one Host gets 400, even when equal") {
  all_rejected(*this, {
      {"two different", with_host("Host: a\r\nHost: b\r\n"), 400},
      {"two equal", with_host("Host: a\r\nHost: a\r\n"), 400},
      {"different case", with_host("Host: a\r\nHOST: a\r\n"), 400},
      {"HTTP/1.0", with_host("Host: a\r\nHost: b\r\n", "HTTP/1.0"), 400},
      {"a list", with_host("Host: a, b\r\n"), 400},
  });
}

TEST_CASE_FIXTURE(fixture, "RFC 9110 §4.2.1, §7.2: Host is a non-empty uri-host [:port] without userinfo") {
  all_rejected(*this, {
      {"empty (strict: an http URI needs a host)", with_host("Host:\r\n"), 400},
      {"only whitespace", with_host("Host:  \r\n"), 400},
      {"userinfo", with_host("Host: user@a\r\n"), 400},
      {"userinfo with password", with_host("Host: u:p@a\r\n"), 400},
      {"space inside", with_host("Host: a b\r\n"), 400},
      {"a path", with_host("Host: a/b\r\n"), 400},
      {"port not a number", with_host("Host: a:x\r\n"), 400},
      {"two colons", with_host("Host: a:1:2\r\n"), 400},
      {"unclosed IPv6 literal", with_host("Host: [::1\r\n"), 400},
  });
  served(with_host("Host: example.com:8080\r\n") + with_host("Host: [::1]:80\r\n") +
             with_host("Host: 127.0.0.1\r\n"),
         {200, 200, 200});
}

TEST_CASE_FIXTURE(fixture, "RFC 6585 §5: a header section over the limit gets 431") {
  rejected(get("/", "X: " + std::string(20 * 1024, 'v') + "\r\n"), 431);
  rejected(get("/", std::string(20 * 1024, 'X') + ": v\r\n"), 431);
  std::string many;
  for (int i = 0; i < 101; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  rejected(get("/", many), 431);
}

// Compression without sockets: Accept-Encoding negotiation (q-values, `*`, identity, malformed
// weights), the coders' output decoded by the libraries' own decoders — whole bodies and streams
// flushed part by part — and the filter's option checks.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "app/coding/accept_encoding.hpp"
#include "app/coding/body_coder.hpp"
#include "hive/filters/compress.hpp"
#include "support/content_decode.hpp"

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"  // g++ 12 and designated initializers

namespace {

using hive::detail::coding;

constexpr coding ct_all[] = {coding::zstd, coding::br, coding::gzip};

hive::detail::coding_choice ct_pick(std::string_view field, std::span<const coding> offered = ct_all) {
  const std::string_view fields[] = {field};
  return hive::detail::negotiate(fields, offered);
}

std::string_view ct_name(std::string_view field, std::span<const coding> offered = ct_all) {
  return hive::detail::coding_name(ct_pick(field, offered).pick);
}

// Text that compresses, but not to nothing: numbered lines.
std::string ct_text(std::size_t bytes) {
  std::string s;
  for (int i = 0; s.size() < bytes; ++i) s += "{\"id\":" + std::to_string(i) + ",\"name\":\"item " + std::to_string(i * 7919 % 1000) + "\"},\n";
  s.resize(bytes);
  return s;
}

}  // namespace

TEST_CASE("accept-encoding: q-values choose, ties go to the server's order") {
  CHECK(ct_name("") == "identity");
  CHECK(ct_name("gzip") == "gzip");
  CHECK(ct_name("GZip") == "gzip");
  CHECK(ct_name("x-gzip") == "gzip");
  CHECK(ct_name("gzip, deflate, br, zstd") == "zstd");          // a browser's: our order decides
  CHECK(ct_name("gzip, deflate, br") == "br");
  CHECK(ct_name("gzip;q=1.0, br;q=0.5") == "gzip");
  CHECK(ct_name("gzip; q=0.8 , br ;Q=0.9") == "br");             // spaces, upper-case Q
  CHECK(ct_name("deflate, compress") == "identity");             // nothing we offer
  const coding gzip_only[] = {coding::gzip};
  CHECK(ct_name("br, zstd", gzip_only) == "identity");
  CHECK(ct_name("br;q=1, gzip;q=0.1", gzip_only) == "gzip");
  CHECK(ct_name("gzip;level=9;q=0.5") == "gzip");                // other parameters ignored
}

TEST_CASE("accept-encoding: q=0 refuses, `*` stands for what is not listed, identity can win") {
  CHECK(ct_name("gzip;q=0") == "identity");
  CHECK(ct_name("*") == "zstd");
  CHECK(ct_name("*;q=0.5, zstd;q=0") == "br");
  CHECK(ct_name("*;q=0") == "identity");
  CHECK(ct_pick("*;q=0").identity_refused);
  CHECK(ct_name("gzip;q=0.5, identity") == "identity");         // identity weighs more
  CHECK(ct_name("gzip;q=0.5, identity;q=0.5") == "gzip");       // a tie: coding preferred
  CHECK(ct_pick("gzip, identity;q=0").identity_refused);
  CHECK_FALSE(ct_pick("gzip, identity;q=0.1").identity_refused);
  CHECK_FALSE(ct_pick("gzip;q=0, *;q=0, identity").identity_refused);
  CHECK_FALSE(ct_pick("gzip").identity_refused);
  CHECK(ct_pick("identity;q=0, *;q=0").pick == coding::identity);  // nothing acceptable: identity anyway
}

TEST_CASE("accept-encoding: malformed weights and members are ignored; several field lines join") {
  CHECK(ct_name("gzip;q=2") == "identity");
  CHECK(ct_name("gzip;q=1.5") == "identity");
  CHECK(ct_name("gzip;q=0.1234") == "identity");
  CHECK(ct_name("gzip;q=x, br;q=0.001") == "br");
  CHECK(ct_name("gzip;q=, br") == "br");
  CHECK(ct_name("gzip;q=1.000") == "gzip");
  CHECK(ct_name("gzip;q=1.001") == "identity");
  CHECK(ct_name(",,, ,gzip,,") == "gzip");
  CHECK(ct_name(";q=1, =, gz ip") == "identity");
  const std::string_view two[] = {"gzip;q=0.2", "br;q=0.3"};
  CHECK(hive::detail::negotiate(two, ct_all).pick == coding::br);
}

TEST_CASE("coders: whole bodies decode to what went in, for every coding this build has") {
  const std::string body = ct_text(100 * 1024);
  for (const auto name : hive::filters::compress_codings()) {
    CAPTURE(name);
    coding c;
    REQUIRE(hive::detail::parse_coding(name, c));
    REQUIRE(hive::test::can_decode(name));
    for (const std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{1500}, body.size()}) {
      CAPTURE(size);
      const std::string_view in = std::string_view(body).substr(0, size);
      hive::detail::coder_settings s{.level = c == coding::gzip ? 6 : c == coding::br ? 4 : 3,
                                     .window_log = hive::detail::window_log_for(size, 15),
                                     .size = size};
      auto coder = hive::detail::make_coder(c, s);
      REQUIRE(coder);
      std::string out = "prefix";  // appended to, never replaced
      REQUIRE(coder->code(in, true, out));
      REQUIRE(out.starts_with("prefix"));
      const auto back = hive::test::decode(name, std::string_view(out).substr(6));
      REQUIRE(back.has_value());
      CHECK(*back == in);
      if (size == body.size()) CHECK(out.size() < size / 4);
    }
  }
}

TEST_CASE("coders: a stream is flushed at every part: what was sent so far decodes on its own") {
  for (const auto name : hive::filters::compress_codings()) {
    CAPTURE(name);
    coding c;
    REQUIRE(hive::detail::parse_coding(name, c));
    for (const int window_log : {10, 15}) {
      CAPTURE(window_log);
      auto coder = hive::detail::make_coder(c, {.level = 1, .window_log = window_log, .size = 0});
      REQUIRE(coder);
      std::string sent, plain;
      for (int i = 0; i < 40; ++i) {
        const std::string part = "data: event " + std::to_string(i) + (i % 7 == 0 ? ct_text(3000) : "") + "\n\n";
        REQUIRE(coder->code(part, false, sent));
        plain += part;
        const auto so_far = hive::test::decode(name, sent, false);
        REQUIRE(so_far.has_value());
        CHECK(*so_far == plain);  // nothing held back
        CHECK_FALSE(hive::test::decode(name, sent, true).has_value());  // not ended yet
      }
      REQUIRE(coder->code({}, true, sent));
      const auto whole = hive::test::decode(name, sent, true);
      REQUIRE(whole.has_value());
      CHECK(*whole == plain);
    }
  }
}

TEST_CASE("compress: codings this build has, and options that are refused") {
  const auto have = hive::filters::compress_codings();
  // scripts/dev installs the three libraries: a build without one of them is a set-up problem.
  CHECK(have == std::vector<std::string_view>{"zstd", "br", "gzip"});
  CHECK_NOTHROW(hive::filters::compress());
  CHECK_THROWS_AS(hive::filters::compress({.codings = {"deflate"}}), std::invalid_argument);
  CHECK_THROWS_AS(hive::filters::compress({.codings = {"identity"}}), std::invalid_argument);
  CHECK_THROWS_AS(hive::filters::compress({.stream_codings = {"lzma"}}), std::invalid_argument);
  CHECK_THROWS_AS(hive::filters::compress({.gzip_level = 0}), std::invalid_argument);
  CHECK_THROWS_AS(hive::filters::compress({.gzip_level = 10}), std::invalid_argument);
  CHECK_THROWS_AS(hive::filters::compress({.brotli_quality = 12}), std::invalid_argument);
  CHECK_THROWS_AS(hive::filters::compress({.zstd_level = 0}), std::invalid_argument);
  CHECK_THROWS_AS(hive::filters::compress({.stream_window_log = 16}), std::invalid_argument);
  CHECK_THROWS_AS(hive::filters::compress({.types = {"text"}}), std::invalid_argument);
  CHECK_THROWS_AS(hive::filters::compress({.types = {"*/*"}}), std::invalid_argument);
  CHECK_THROWS_AS(hive::filters::compress({.types = {"text/j*son"}}), std::invalid_argument);
  CHECK_THROWS_AS(hive::filters::compress({.types = {"text/plain; charset=utf-8"}}), std::invalid_argument);
  CHECK_NOTHROW(hive::filters::compress({.types = {"application/*+json", "text/*", "image/svg+xml"}}));
}

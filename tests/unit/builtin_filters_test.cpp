// The built-in filters' parts that need no socket: access log lines (formats and escaping: a
// client cannot forge a line or a field), request ids, the CORS configuration checks, the rate
// limiter's counting in one process, and --rate-limit parsing.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>

#include <asio/io_context.hpp>

#include "app/access_log.hpp"
#include "hive/filters/cors.hpp"
#include "hive/filters/rate_limit.hpp"
#include "hive/filters/request_id.hpp"

// g++ 12 warns on designated initializers that leave out defaulted members (fixed in g++ 14).
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace {

using fmt = hive::options::access_log_format;

hive::detail::access_entry bf_entry() {
  hive::detail::access_entry e;
  e.time = 1764532563;  // 2025-11-30T19:56:03Z
  e.client = "127.0.0.1";
  e.method = "GET";
  e.target = "/notes?q=1";
  e.status = 200;
  e.bytes = 13;
  e.duration_us = 250;
  e.user_agent = "curl/8.0";
  e.request_id = "abc-1";
  return e;
}

std::string bf_line(fmt f, const hive::detail::access_entry& e) {
  std::string out;
  hive::detail::format_access_line(f, e, out);
  return out;
}

}  // namespace

TEST_CASE("access log: common, combined and JSON lines") {
  const auto e = bf_entry();
  CHECK(bf_line(fmt::common, e) == "127.0.0.1 - - [30/Nov/2025:19:56:03 +0000] \"GET /notes?q=1 HTTP/1.1\" 200 13\n");
  CHECK(bf_line(fmt::combined, e) ==
        "127.0.0.1 - - [30/Nov/2025:19:56:03 +0000] \"GET /notes?q=1 HTTP/1.1\" 200 13 \"-\" \"curl/8.0\"\n");
  const auto j = nlohmann::json::parse(bf_line(fmt::json, e));
  CHECK(j["time"] == "2025-11-30T19:56:03Z");
  CHECK(j["client"] == "127.0.0.1");
  CHECK(j["method"] == "GET");
  CHECK(j["target"] == "/notes?q=1");
  CHECK(j["status"] == 200);
  CHECK(j["bytes"] == 13);
  CHECK(j["duration_us"] == 250);
  CHECK(j["user_agent"] == "curl/8.0");
  CHECK(j["request_id"] == "abc-1");
  auto streamed = e;
  streamed.bytes = -1;
  CHECK(bf_line(fmt::common, streamed).ends_with("200 -\n"));
  CHECK(nlohmann::json::parse(bf_line(fmt::json, streamed))["bytes"].is_null());
  auto refused = hive::detail::access_entry{};
  refused.time = e.time;
  refused.status = 400;
  refused.bytes = 12;
  CHECK(bf_line(fmt::common, refused) == "- - - [30/Nov/2025:19:56:03 +0000] \"-\" 400 12\n");
}

TEST_CASE("access log: quotes, backslashes and control bytes cannot forge a field or a line") {
  auto e = bf_entry();
  const std::string evil = "x\" 200 1 \"-\" \"y\n127.0.0.1 - - [x] \"GET /forged\\\x01\x7f\xff\t";
  e.user_agent = evil;
  e.target = "/a\"b";
  const std::string c = bf_line(fmt::combined, e);
  CHECK(c.find('\n') == c.size() - 1);  // one line
  CHECK(c ==
        "127.0.0.1 - - [30/Nov/2025:19:56:03 +0000] \"GET /a\\\"b HTTP/1.1\" 200 13 \"-\" "
        "\"x\\\" 200 1 \\\"-\\\" \\\"y\\x0a127.0.0.1 - - [x] \\\"GET /forged\\\\\\x01\\x7f\\xff\\x09\"\n");
  const std::string j = bf_line(fmt::json, e);
  CHECK(j.find('\n') == j.size() - 1);
  const auto parsed = nlohmann::json::parse(j);  // valid JSON whatever the bytes
  CHECK(parsed["target"] == "/a\"b");
  CHECK(parsed["user_agent"].get<std::string>().starts_with("x\" 200 1 \"-\" \"y\n127.0.0.1"));
}

TEST_CASE("request id: what is kept as sent") {
  using hive::filters::valid_request_id;
  CHECK(valid_request_id("abc-123_x.y:z+/=@"));
  CHECK(valid_request_id(std::string(128, 'a')));
  CHECK_FALSE(valid_request_id(std::string(129, 'a')));
  CHECK_FALSE(valid_request_id(""));
  CHECK_FALSE(valid_request_id("a b"));
  CHECK_FALSE(valid_request_id("a\"b"));
  CHECK_FALSE(valid_request_id("a\x01"));
  CHECK_FALSE(valid_request_id("caf\xc3\xa9"));
  CHECK_THROWS_AS(hive::filters::request_id({.header = "Bad Name"}), std::invalid_argument);
}

TEST_CASE("cors: configurations a browser would refuse, or that would be unsafe, are refused at start-up") {
  using hive::filters::cors;
  CHECK_THROWS_AS(cors({.origins = {"*"}, .credentials = true}), std::invalid_argument);
  CHECK_THROWS_AS(cors({.origins = {"*", "https://a.example"}}), std::invalid_argument);
  CHECK_THROWS_AS(cors({.origins = {"https://a.example\r\nX: y"}}), std::invalid_argument);
  CHECK_THROWS_AS(cors({.origins = {"https://a.example"}, .methods = {"GE T"}}), std::invalid_argument);
  CHECK_NOTHROW(cors({.origins = {"*"}}));
  CHECK_NOTHROW(cors({.origins = {"https://a.example"}, .credentials = true}));
}

TEST_CASE("rate limit: --rate-limit specs") {
  using hive::filters::rate_limit_options;
  CHECK(rate_limit_options::parse("100/s").requests == 100);
  CHECK(rate_limit_options::parse("100/s").per == std::chrono::seconds(1));
  CHECK(rate_limit_options::parse("20/m").per == std::chrono::minutes(1));
  CHECK(rate_limit_options::parse("5/h").per == std::chrono::hours(1));
  CHECK_THROWS_AS(rate_limit_options::parse("0/s"), std::invalid_argument);
  CHECK_THROWS_AS(rate_limit_options::parse("100"), std::invalid_argument);
  CHECK_THROWS_AS(rate_limit_options::parse("100/d"), std::invalid_argument);
  CHECK_THROWS_AS(rate_limit_options::parse("x/s"), std::invalid_argument);
  const char* argv[] = {"x", "--rate-limit", "10/s", "--access-log", "combined", "--access-log-file", "/tmp/a.log"};
  const auto o = hive::options::parse(7, argv);
  CHECK(o.rate_limit == "10/s");
  CHECK(o.access_log == fmt::combined);
  CHECK(o.access_log_file == "/tmp/a.log");
  const char* bad[] = {"x", "--rate-limit", "10/d"};
  CHECK_THROWS_AS(hive::options::parse(3, bad), std::invalid_argument);
  const char* bad_format[] = {"x", "--access-log", "apache"};
  CHECK_THROWS_AS(hive::options::parse(3, bad_format), std::invalid_argument);
}

TEST_CASE("rate limit: a burst at once, then one request per interval; keys apart; refusals say when") {
  // 5 per 400 ms: one every 80 ms, 5 at once after a pause.
  hive::filters::rate_limit limit({.requests = 5, .per = std::chrono::milliseconds(400), .burst = 5,
                                   .memory_bytes = 64 * 1024, .dict_name = "bf-test"});
  int allowed = 0;
  for (int i = 0; i < 6; ++i) allowed += limit.take("10.0.0.1").allowed ? 1 : 0;
  CHECK(allowed == 5);
  const auto refused = limit.take("10.0.0.1");
  CHECK_FALSE(refused.allowed);
  CHECK(refused.retry_after >= std::chrono::seconds(1));
  CHECK(limit.take("10.0.0.2").allowed);
  // One interval later, one more; refused tries did not push it back.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK(limit.take("10.0.0.1").allowed);
  CHECK_FALSE(limit.take("10.0.0.1").allowed);
  // A pause refills the bucket: the full burst again, not more.
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  allowed = 0;
  for (int i = 0; i < 7; ++i) allowed += limit.take("10.0.0.1").allowed ? 1 : 0;
  CHECK(allowed == 5);
}

TEST_CASE("rate limit: the default key is the IPv4 address, or the IPv6 /64 a subscriber is given") {
  using hive::filters::rate_limit;
  auto parse = [](const char* text) {
    hive::address a;
    in6_addr six{};
    in_addr four{};
    if (::inet_pton(AF_INET, text, &four) == 1) {
      a.bytes[10] = a.bytes[11] = 0xff;
      std::memcpy(&a.bytes[12], &four, 4);
    } else {
      REQUIRE(::inet_pton(AF_INET6, text, &six) == 1);
      std::memcpy(a.bytes.data(), &six, 16);
    }
    return a;
  };
  CHECK(rate_limit::client_key(parse("203.0.113.7")) == "203.0.113.7");
  CHECK(rate_limit::client_key(parse("203.0.113.8")) != rate_limit::client_key(parse("203.0.113.7")));
  CHECK(rate_limit::client_key(parse("2001:db8:1:2::1")) == "2001:db8:1:2::/64");
  CHECK(rate_limit::client_key(parse("2001:db8:1:2:ffff:1:2:3")) == "2001:db8:1:2::/64");
  CHECK(rate_limit::client_key(parse("2001:db8:1:3::1")) == "2001:db8:1:3::/64");
}

TEST_CASE("access log: buffered until flushed, reopened after a rename (logrotate), a full disk drops lines") {
  asio::io_context io;
  char dir[] = "/tmp/hive-bf-XXXXXX";
  REQUIRE(::mkdtemp(dir) != nullptr);
  const std::string path = std::string(dir) + "/access.log";
  const auto size_of = [](const std::string& p) {
    struct stat st{};
    return ::stat(p.c_str(), &st) == 0 ? static_cast<long>(st.st_size) : -1L;
  };
  {
    hive::detail::access_log log(io, fmt::common, path);
    hive::request req;
    hive::response res;
    res.status(404);
    log.record(req, res, 10);
    CHECK(size_of(path) == 0);  // buffered: no write per request
    log.flush();
    const long first = size_of(path);
    CHECK(first > 0);
    REQUIRE(::rename(path.c_str(), (path + ".1").c_str()) == 0);
    log.reopen();
    log.record(req, res, 10);
    log.flush();
    CHECK(size_of(path + ".1") == first);
    CHECK(size_of(path) == first);  // the same line again, in the new file
    // The 100 ms timer writes without a flush() call.
    log.record(req, res, 10);
    io.run_for(std::chrono::milliseconds(300));
    CHECK(size_of(path) == 2 * first);
  }
  ::unlink(path.c_str());
  ::unlink((path + ".1").c_str());
  ::rmdir(dir);

  hive::detail::access_log full(io, fmt::json, "/dev/full");
  hive::request req;
  hive::response res;
  full.record(req, res, 1);
  full.flush();  // ENOSPC: dropped, reported, no exception
  CHECK(full.dropped_lines() == 1);
  CHECK_THROWS_AS(hive::detail::access_log(io, fmt::json, "/nonexistent-dir/x.log"), std::system_error);
}

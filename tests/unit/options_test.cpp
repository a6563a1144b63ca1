#include <doctest/doctest.h>

#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include <hive/options.hpp>

#include "unit/options_helpers.hpp"

using namespace std::chrono_literals;

using hive::test::parse;
using hive::test::parse_error;

TEST_CASE("options: defaults match the documented ones") {
  const auto o = parse({});
  CHECK(o.host == "0.0.0.0");
  CHECK(o.port == 8000);
  CHECK(o.workers == -1);
  CHECK(o.max_request_line_bytes == 8 * 1024);
  CHECK(o.max_header_bytes == 16 * 1024);
  CHECK(o.max_header_count == 100);
  CHECK(o.max_body_bytes == 1024 * 1024);
  CHECK(o.header_timeout == 10s);
  CHECK(o.body_timeout == 30s);
  CHECK(o.idle_timeout == 5s);
  CHECK(o.write_timeout == 30s);
  CHECK(o.max_worker_input_bytes == 64 * 1024 * 1024);
  CHECK(o.max_worker_output_bytes == 64 * 1024 * 1024);
}

TEST_CASE("options: flags in both spellings, units for sizes and durations") {
  const auto o = parse({"--port", "9000", "--workers=0", "--max-body", "4MiB", "--max-header-bytes=8k",
                        "--idle-timeout", "250ms", "--header-timeout=2s", "--host", "127.0.0.1"});
  CHECK(o.port == 9000);
  CHECK(o.workers == 0);
  CHECK(o.max_body_bytes == 4 * 1024 * 1024);
  CHECK(o.max_header_bytes == 8 * 1024);
  CHECK(o.idle_timeout == 250ms);
  CHECK(o.header_timeout == 2s);
  CHECK(o.host == "127.0.0.1");
}

TEST_CASE("options: environment variables, overridden by flags") {
  ::setenv("HIVE_PORT", "7000", 1);
  ::setenv("HIVE_WORKERS", "3", 1);
  const auto env_only = parse({});
  const auto flagged = parse({"--port", "7001"});
  ::unsetenv("HIVE_PORT");
  ::unsetenv("HIVE_WORKERS");
  CHECK(env_only.port == 7000);
  CHECK(env_only.workers == 3);
  CHECK(flagged.port == 7001);
  CHECK(flagged.workers == 3);
}

TEST_CASE("options: bad values are refused with a message naming the option") {
  CHECK(parse_error({"--port", "70000"}).find("--port") != std::string::npos);
  CHECK(parse_error({"--port", "80x"}).find("--port") != std::string::npos);
  CHECK(parse_error({"--idle-timeout", "5d"}).find("--idle-timeout") != std::string::npos);
  CHECK(parse_error({"--idle-timeout", "0"}).find("--idle-timeout") != std::string::npos);
  CHECK(parse_error({"--max-body", "lots"}).find("--max-body") != std::string::npos);
  CHECK(parse_error({"--bogus", "1"}).find("unknown option --bogus") != std::string::npos);
  CHECK(parse_error({"--port"}).find("needs a value") != std::string::npos);
  CHECK(parse_error({"stray"}).find("unexpected argument") != std::string::npos);
}

TEST_CASE("options: usage lists every flag with its variable and default") {
  const auto u = hive::options::usage();
  for (const char* s : {"--port", "HIVE_PORT", "8000", "--max-body", "1MiB", "--idle-timeout", "5s",
                        "--workers", "--header-timeout", "10s", "at most 365 days (31536000s)"}) {
    CHECK_MESSAGE(u.find(s) != std::string::npos, s);
  }
}

TEST_CASE("options: a duration past the maximum is refused, not wrapped") {
  // 9300000000000000 s is 9.3e18 ms: it fit uint64 but wrapped to a negative milliseconds count.
  CHECK(parse_error({"--idle-timeout", "9300000000000000s"}).find("--idle-timeout") != std::string::npos);
  CHECK(parse_error({"--idle-timeout", "9300000000000000s"}).find("365 days") != std::string::npos);
  CHECK_THROWS_AS(parse({"--header-timeout", "18446744073709551615ms"}), std::invalid_argument);
  CHECK_THROWS_AS(parse({"--header-timeout", "18446744073709551616"}), std::invalid_argument);  // > uint64
  CHECK_THROWS_AS(parse({"--body-timeout", "307445734561825861m"}), std::invalid_argument);  // wraps uint64
  CHECK_THROWS_AS(parse({"--write-timeout", "31536001s"}), std::invalid_argument);
  CHECK_THROWS_AS(parse({"--shutdown-timeout", "31536000001ms"}), std::invalid_argument);
  CHECK_THROWS_AS(parse({"--min-uptime", "525601m"}), std::invalid_argument);
  ::setenv("HIVE_HEARTBEAT_TIMEOUT", "9300000000000000s", 1);
  const auto env = parse_error({});
  ::unsetenv("HIVE_HEARTBEAT_TIMEOUT");
  CHECK(env.find("HIVE_HEARTBEAT_TIMEOUT") != std::string::npos);
}

TEST_CASE("options: the maximum duration itself is accepted in every unit") {
  CHECK(hive::options::max_duration == std::chrono::hours(24 * 365));
  CHECK(parse({"--idle-timeout", "31536000s"}).idle_timeout == hive::options::max_duration);
  CHECK(parse({"--idle-timeout", "31536000"}).idle_timeout == hive::options::max_duration);
  CHECK(parse({"--idle-timeout", "31536000000ms"}).idle_timeout == hive::options::max_duration);
  CHECK(parse({"--listen-timeout", "525600m"}).listen_timeout == hive::options::max_duration);
  CHECK(parse({"--idle-timeout", "1ms"}).idle_timeout == 1ms);
}

TEST_CASE("options: a size that does not fit size_t is refused; the largest that does is accepted") {
  constexpr auto max = std::numeric_limits<std::size_t>::max();
  const std::string biggest = std::to_string(max);
  const std::string kib = std::to_string(max / 1024) + "KiB";
  const std::string kib_over = std::to_string(max / 1024 + 1) + "KiB";
  const std::string gib_over = std::to_string(max / (1024ull * 1024 * 1024) + 1) + "GiB";
  CHECK(parse({"--max-body", biggest.c_str()}).max_body_bytes == max);
  CHECK(parse({"--max-body", kib.c_str()}).max_body_bytes == max / 1024 * 1024);
  CHECK(parse_error({"--max-body", kib_over.c_str()}).find("--max-body") != std::string::npos);
  CHECK(parse_error({"--max-body", kib_over.c_str()}).find("too big") != std::string::npos);
  CHECK_THROWS_AS(parse({"--max-header-bytes", gib_over.c_str()}), std::invalid_argument);
  // One past the largest uint64: from_chars overflows; the message says too big, not "not a size".
  CHECK(parse_error({"--max-body", "18446744073709551616"}).find("too big") != std::string::npos);
}

TEST_CASE("options: worker memory budgets take sizes of at least 1 MiB") {
  const auto o = parse({"--max-worker-input", "1MiB", "--max-worker-output=2GiB"});
  CHECK(o.max_worker_input_bytes == 1024 * 1024);
  CHECK(o.max_worker_output_bytes == 2048ull * 1024 * 1024);
  ::setenv("HIVE_MAX_WORKER_OUTPUT", "8MiB", 1);
  const auto env = parse({});
  ::unsetenv("HIVE_MAX_WORKER_OUTPUT");
  CHECK(env.max_worker_output_bytes == 8 * 1024 * 1024);
  const auto small = parse_error({"--max-worker-input", "1023KiB"});
  CHECK(small.find("--max-worker-input") != std::string::npos);
  CHECK(small.find("1MiB") != std::string::npos);
  CHECK(parse_error({"--max-worker-output", "0"}).find("--max-worker-output") != std::string::npos);
  CHECK(parse_error({"--max-worker-output", "lots"}).find("--max-worker-output") != std::string::npos);
  const auto u = hive::options::usage();
  for (const char* s : {"--max-worker-input", "HIVE_MAX_WORKER_INPUT", "--max-worker-output",
                        "HIVE_MAX_WORKER_OUTPUT", "64MiB"}) {
    CHECK_MESSAGE(u.find(s) != std::string::npos, s);
  }
}

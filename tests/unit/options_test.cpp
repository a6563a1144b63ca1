#include <doctest/doctest.h>

#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include <hive/options.hpp>

using namespace std::chrono_literals;

namespace {
hive::options parse(std::initializer_list<const char*> args) {
  std::vector<const char*> argv{"prog"};
  argv.insert(argv.end(), args.begin(), args.end());
  return hive::options::parse(static_cast<int>(argv.size()), argv.data());
}
}  // namespace

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
  auto message = [](std::initializer_list<const char*> args) -> std::string {
    try {
      parse(args);
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "";
  };
  CHECK(message({"--port", "70000"}).find("--port") != std::string::npos);
  CHECK(message({"--port", "80x"}).find("--port") != std::string::npos);
  CHECK(message({"--idle-timeout", "5h"}).find("--idle-timeout") != std::string::npos);
  CHECK(message({"--idle-timeout", "0"}).find("--idle-timeout") != std::string::npos);
  CHECK(message({"--max-body", "lots"}).find("--max-body") != std::string::npos);
  CHECK(message({"--bogus", "1"}).find("unknown option --bogus") != std::string::npos);
  CHECK(message({"--port"}).find("needs a value") != std::string::npos);
  CHECK(message({"stray"}).find("unexpected argument") != std::string::npos);
}

TEST_CASE("options: usage lists every flag with its variable and default") {
  const auto u = hive::options::usage();
  for (const char* s : {"--port", "HIVE_PORT", "8000", "--max-body", "1MiB", "--idle-timeout", "5s",
                        "--workers", "--header-timeout", "10s"}) {
    CHECK_MESSAGE(u.find(s) != std::string::npos, s);
  }
}

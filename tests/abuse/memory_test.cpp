// Memory after a flood: a burst of large requests on many connections at once grows what the
// worker holds (its buffer pools keep what the burst needed, malloc keeps its peak). Once the
// load is gone, the worker gives it back: its resident set falls back towards where it started.
#include <doctest/doctest.h>

#include <thread>

#include "abuse/abuse.hpp"
#include "support/client.hpp"

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace memory_test {

// `conns` connections each post a `body_bytes` body to /echo, all of them in progress at once
// (every body but its last byte is sent before any is finished), then read their answers.
bool burst(std::uint16_t port, int conns, std::size_t body_bytes) {
  const std::string head = "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: " +
                           std::to_string(body_bytes) + "\r\n\r\n";
  const std::string body(body_bytes, 'm');
  std::vector<int> fds;
  std::vector<std::size_t> sent(static_cast<std::size_t>(conns), 0);
  const std::size_t almost = head.size() + body_bytes - 1;
  const std::string all = head + body;
  for (int i = 0; i < conns; ++i) {
    fds.push_back(abuse::open_client(port));
    if (fds.back() < 0) return false;
  }
  // Everything but the last byte, round robin, so the worker holds every request at once.
  const auto t0 = clock_type::now();
  for (bool more = true; more && clock_type::now() - t0 < 20s;) {
    more = false;
    for (int i = 0; i < conns; ++i) {
      auto& s = sent[static_cast<std::size_t>(i)];
      if (s >= almost) continue;
      const long n = abuse::send_some(fds[static_cast<std::size_t>(i)],
                                      std::string_view(all).substr(s, almost - s));
      if (n < 0) return false;
      s += static_cast<std::size_t>(n);
      more = more || s < almost;
    }
    if (more) std::this_thread::sleep_for(1ms);
  }
  for (int fd : fds) abuse::send_some(fd, std::string_view(all).substr(almost));
  // The answers: each echoes the body.
  std::vector<std::string> got(fds.size());
  std::size_t done = 0;
  const std::size_t want = body_bytes;
  while (done < fds.size() && clock_type::now() - t0 < 30s) {
    done = 0;
    for (std::size_t i = 0; i < fds.size(); ++i) {
      abuse::read_now(fds[i], got[i]);
      const auto end = got[i].find("\r\n\r\n");
      if (end != std::string::npos && got[i].size() - end - 4 >= want) ++done;
    }
    std::this_thread::sleep_for(2ms);
  }
  for (int fd : fds) ::close(fd);
  return done == fds.size();
}

}  // namespace memory_test

TEST_CASE("abuse: after a burst of large requests the worker's RSS falls back once it is quiet") {
  abuse::raise_nofile();
  abuse::hello srv({});
  REQUIRE(srv.port() != 0);
  REQUIRE(memory_test::burst(srv.port(), 2, 1024));  // warm up: first allocations, page faults
  std::this_thread::sleep_for(200ms);
  const std::size_t baseline = abuse::rss_bytes(srv.pid());
  // 64 connections × 200 KiB bodies (under the 256 KiB a pooled buffer may keep), three times.
  for (int round = 0; round < 3; ++round) REQUIRE(memory_test::burst(srv.port(), 64, 200 * 1024));
  const std::size_t peak = abuse::rss_bytes(srv.pid());
  MESSAGE("RSS baseline " << baseline / 1024 << " KiB, after the burst " << peak / 1024 << " KiB");
  if (!abuse::rss_meaningful) return;
  REQUIRE(peak > baseline + 16 * 1024 * 1024);  // the burst did grow the worker
  // Quiet now: within a few seconds the worker returns what the burst took.
  std::size_t after = peak;
  const auto t0 = clock_type::now();
  while (clock_type::now() - t0 < 15s) {
    std::this_thread::sleep_for(250ms);
    after = abuse::rss_bytes(srv.pid());
    if (after < baseline + 4 * 1024 * 1024) break;
  }
  MESSAGE("RSS " << after / 1024 << " KiB after "
                 << std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - t0).count()
                 << " ms of quiet");
  CHECK(after < baseline + 4 * 1024 * 1024);
  // And it still serves.
  CHECK(memory_test::burst(srv.port(), 1, 10));
}

TEST_CASE("abuse: after a burst, light traffic that goes on does not keep the burst's memory") {
  abuse::raise_nofile();
  abuse::hello srv({});
  REQUIRE(srv.port() != 0);
  REQUIRE(memory_test::burst(srv.port(), 2, 1024));
  std::this_thread::sleep_for(200ms);
  const std::size_t baseline = abuse::rss_bytes(srv.pid());
  for (int round = 0; round < 3; ++round) REQUIRE(memory_test::burst(srv.port(), 64, 200 * 1024));
  const std::size_t peak = abuse::rss_bytes(srv.pid());
  MESSAGE("RSS baseline " << baseline / 1024 << " KiB, after the burst " << peak / 1024 << " KiB");
  if (!abuse::rss_meaningful) return;
  REQUIRE(peak > baseline + 16 * 1024 * 1024);
  // The worker is never quiet: a small request every 100 ms. Its pools hold far more than two
  // requests at a time need, so it gives them back anyway.
  std::size_t after = peak;
  const auto t0 = clock_type::now();
  while (clock_type::now() - t0 < 15s) {
    REQUIRE(memory_test::burst(srv.port(), 1, 100));
    std::this_thread::sleep_for(100ms);
    after = abuse::rss_bytes(srv.pid());
    if (after < baseline + 4 * 1024 * 1024) break;
  }
  MESSAGE("RSS " << after / 1024 << " KiB after "
                 << std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - t0).count()
                 << " ms of light traffic");
  CHECK(after < baseline + 4 * 1024 * 1024);
}

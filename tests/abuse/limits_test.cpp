// Floods and bombs against hello in a child process: running out of descriptors, endless bodies,
// header bombs and garbage, with the worker's CPU time and memory watched from outside.
#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <random>
#include <thread>

#include "abuse/abuse.hpp"
#include "support/client.hpp"

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {
using abuse::rss_meaningful;

bool served(std::uint16_t port, std::chrono::milliseconds timeout = 3s) {
  hive::test::client c(port);
  if (!c.connected()) return false;
  c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  const auto r = c.read_responses(1, timeout);
  return r.responses.size() == 1 && r.responses[0].status == 200;
}
}  // namespace

TEST_CASE("abuse: out of descriptors (EMFILE), the worker does not spin and recovers") {
  abuse::raise_nofile();
  abuse::hello srv({"--header-timeout", "30s"}, 64);
  REQUIRE(srv.port() != 0);
  REQUIRE(served(srv.port()));
  // Twice as many connections as the worker has descriptors, each with half a request so the
  // worker accepts it (TCP_DEFER_ACCEPT) and holds it.
  std::vector<int> flood;
  for (int i = 0; i < 128; ++i) {
    const int fd = abuse::open_client(srv.port());
    REQUIRE(fd >= 0);
    abuse::send_some(fd, "GET / HTTP/1.1\r\n");
    flood.push_back(fd);
  }
  // Clients with whole requests queue behind the flood in the listen backlog.
  std::vector<int> queued;
  for (int i = 0; i < 4; ++i) {
    const int fd = abuse::open_client(srv.port());
    REQUIRE(fd >= 0);
    abuse::send_some(fd, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    queued.push_back(fd);
  }
  std::this_thread::sleep_for(300ms);
  const auto cpu0 = abuse::cpu_time(srv.pid());
  std::this_thread::sleep_for(2s);
  const auto cpu = abuse::cpu_time(srv.pid()) - cpu0;
  MESSAGE("worker CPU time over 2 s out of descriptors: " << cpu.count() << " ms");
  CHECK(cpu < 400ms);  // a busy accept loop would burn the whole 2 s
  CHECK(srv.output().find("pausing accepts") != std::string::npos);  // it did run out
  for (int fd : flood) ::close(fd);
  // Descriptors come back as the flood's connections close. The queued clients are answered
  // with no new connection arriving to wake the listener: the worker must go back to its backlog
  // by itself.
  std::vector<std::string> answers(queued.size());
  std::size_t answered = 0;
  const auto t0 = clock_type::now();
  while (answered < queued.size() && clock_type::now() - t0 < 10s) {
    std::this_thread::sleep_for(20ms);
    answered = 0;
    for (std::size_t i = 0; i < queued.size(); ++i) {
      if (answers[i].find("\r\n\r\n") == std::string::npos) abuse::read_now(queued[i], answers[i]);
      if (answers[i].rfind("HTTP/1.1 200 ", 0) == 0) ++answered;
    }
  }
  for (int fd : queued) ::close(fd);
  MESSAGE("queued clients answered: " << answered << " of " << queued.size() << " after "
          << std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - t0).count() << " ms");
  CHECK(answered == queued.size());
  // And new clients are served again.
  bool again = false;
  while (!again && clock_type::now() - t0 < 15s) again = served(srv.port(), 2s);
  CHECK(again);
  CHECK(srv.output().find("accepting again") != std::string::npos);
  if (answered != queued.size() || !again) {
    const auto& out = srv.output();
    MESSAGE("worker " << (::kill(srv.pid(), 0) == 0 ? "alive" : "gone") << "; it printed (last 2000 bytes):\n"
                      << out.substr(out.size() > 2000 ? out.size() - 2000 : 0));
  }
}

TEST_CASE("abuse: endless bodies, header bombs and garbage are refused within limits; memory returns to baseline") {
  abuse::raise_nofile();
  abuse::hello srv({});
  REQUIRE(srv.port() != 0);
  for (int i = 0; i < 20; ++i) REQUIRE(served(srv.port()));
  std::this_thread::sleep_for(200ms);
  const std::size_t baseline = abuse::rss_bytes(srv.pid());
  std::size_t peak = baseline;

  struct attack {
    const char* what;
    std::string head;
    std::string filler;  // sent after the head until the server answers (up to 8 MiB)
    int status;
  };
  std::mt19937 rng(7);
  std::string garbage(64 * 1024, '\0');
  for (auto& c : garbage) c = static_cast<char>(rng());
  const std::vector<attack> attacks = {
      {"declared huge body", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 100000000000\r\n\r\n",
       std::string(64 * 1024, 'x'), 413},
      {"endless chunked body", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
       "8000\r\n" + std::string(0x8000, 'x') + "\r\n", 413},
      {"one endless header", "GET / HTTP/1.1\r\nHost: a\r\nX-Bomb: ", std::string(64 * 1024, 'h'), 431},
      {"endless small headers", "GET / HTTP/1.1\r\nHost: a\r\n", "X-A: b\r\n", 431},
      {"endless target", "GET /", std::string(64 * 1024, 'a'), 414},
      {"garbage", "", garbage, 400},
  };
  for (int round = 0; round < 3; ++round) {
    for (const auto& a : attacks) {
      INFO(std::string(a.what));
      // Eight connections at once per attack.
      std::vector<int> fds;
      std::vector<std::string> got(8);
      for (int i = 0; i < 8; ++i) {
        fds.push_back(abuse::open_client(srv.port()));
        REQUIRE(fds.back() >= 0);
        abuse::send_some(fds.back(), a.head);
      }
      std::vector<bool> done(8, false);
      std::vector<std::size_t> sent(8, 0);
      const auto t0 = clock_type::now();
      int finished = 0;
      while (finished < 8 && clock_type::now() - t0 < 10s) {
        for (int i = 0; i < 8; ++i) {
          if (done[i]) continue;
          if (sent[i] < 8 * 1024 * 1024) {
            const long n = abuse::send_some(fds[i], a.filler);
            if (n > 0) sent[i] += static_cast<std::size_t>(n);
          }
          const bool open = abuse::read_now(fds[i], got[i]);
          if (!open || got[i].find("\r\n\r\n") != std::string::npos) {
            done[i] = true;
            ++finished;
          }
        }
        peak = std::max(peak, abuse::rss_bytes(srv.pid()));
        std::this_thread::sleep_for(1ms);
      }
      CHECK(finished == 8);
      for (int i = 0; i < 8; ++i) {
        CHECK(got[i].starts_with("HTTP/1.1 " + std::to_string(a.status) + " "));
        CHECK(sent[i] < 8 * 1024 * 1024);  // refused long before the client gave up
        ::close(fds[i]);
      }
    }
  }
  CHECK(served(srv.port()));
  std::this_thread::sleep_for(300ms);
  const std::size_t after = abuse::rss_bytes(srv.pid());
  MESSAGE("RSS baseline " << baseline / 1024 << " KiB, peak " << peak / 1024 << " KiB, after "
                          << after / 1024 << " KiB");
  if (rss_meaningful) {
    CHECK(peak < baseline + 64 * 1024 * 1024);
    CHECK(after < baseline + 8 * 1024 * 1024);
  }
}

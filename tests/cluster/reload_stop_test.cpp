// Rolling reload (SIGHUP) under load, an aborted reload, and the graceful stop (SIGTERM).
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <thread>

#include <doctest/doctest.h>

#include "cluster_test_util.hpp"

using namespace hive::test;

namespace {

// Sends /pid in a loop until `stop`, on keep-alive connections (reconnecting when the server
// says `Connection: close`) or on a fresh connection per request.
struct load {
  std::atomic<int> ok{0}, failed{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;

  void keep_alive(std::uint16_t port) {
    threads.emplace_back([this, port] {
      auto c = std::make_unique<client>(port);
      while (!stop) {
        // No retries: a draining worker answers the next request on a keep-alive connection
        // (with `Connection: close`) instead of closing it under the client's feet.
        auto r = request_on(*c, "GET", "/pid");
        if (r.ok && r.res.status == 200) {
          ++ok;
        } else {
          ++failed;
        }
        if (!r.ok || r.res.header("Connection") == std::optional<std::string>("close")) {
          c = std::make_unique<client>(port);
        }
      }
    });
  }
  void fresh_connections(std::uint16_t port) {
    threads.emplace_back([this, port] {
      while (!stop) {
        auto r = http_get(port, "/pid");
        if (r.ok && r.res.status == 200) {
          ++ok;
        } else {
          ++failed;
        }
      }
    });
  }
  void finish() {
    stop = true;
    for (auto& t : threads) t.join();
  }
};

}  // namespace

TEST_CASE("SIGHUP under load: rolling reload, zero failed requests, every worker replaced") {
  cluster_process c(fixture_args());
  const auto port = c.wait_listening();
  REQUIRE(port != 0);
  const auto before = pids_by_slot(port);
  REQUIRE(before.size() == 2);
  load l;
  l.keep_alive(port);
  l.keep_alive(port);
  l.fresh_connections(port);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  c.signal(SIGHUP);
  REQUIRE(c.wait_for("reload done", std::chrono::seconds(10)));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  c.signal(SIGHUP);  // and once more, right after
  REQUIRE(c.wait_for("reload done", std::chrono::seconds(10), 1));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  l.finish();
  MESSAGE("requests: " << l.ok.load() << " ok, " << l.failed.load() << " failed");
  CHECK(l.failed == 0);
  CHECK(l.ok > 100);
  const auto after = pids_by_slot(port);
  REQUIRE(after.size() == 2);
  CHECK(after.at(0) != before.at(0));
  CHECK(after.at(1) != before.at(1));
  CHECK(c.count("after draining (replaced by reload)") == 4);
}

TEST_CASE("SIGHUP while a crashed worker's successor starts: it is replaced too, once it listens") {
  // The successor was forked before the reload was asked for, so it runs the old code: skipping
  // its slot would leave it serving after "reload done".
  cluster_process c(fixture_args(), {"FIXTURE_RESTART_DELAY_MS=800"});
  const auto port = c.wait_listening();
  REQUIRE(port != 0);
  const auto before = pids_by_slot(port);
  REQUIRE(before.size() == 2);
  REQUIRE(::kill(before.at(0), SIGKILL) == 0);
  const auto restarted = c.wait_for("restarting it now", std::chrono::seconds(5));
  REQUIRE(restarted);
  REQUIRE(c.wait_for("started worker", std::chrono::seconds(5), 2));  // two at start, its successor
  c.signal(SIGHUP);  // while the successor sleeps its 800 ms before listening
  const auto waits = c.wait_for("reload: slot 0 waits for its starting worker", std::chrono::seconds(5));
  REQUIRE(waits);
  REQUIRE(c.wait_for("reload done", std::chrono::seconds(20)));
  // Both slots were replaced: the successor of slot 0 drained like slot 1's first worker.
  CHECK(c.wait_for("after draining (replaced by reload)", std::chrono::seconds(20), 1));
  CHECK(c.count("skipped") == 0);
  const auto after = pids_by_slot(port);
  REQUIRE(after.size() == 2);
  CHECK(after.at(1) != before.at(1));
  CHECK(waits->find(std::to_string(after.at(0))) == std::string::npos);
}

TEST_CASE("a new worker that fails at start aborts the reload; the old one keeps serving") {
  char path[] = "/tmp/hive-fixture-fail-XXXXXX";
  const int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  ::close(fd);
  ::unlink(path);
  cluster_process c(fixture_args(), {std::string("FIXTURE_FAIL_FILE=") + path});
  const auto port = c.wait_listening();
  REQUIRE(port != 0);
  const auto before = pids_by_slot(port);
  REQUIRE(before.size() == 2);
  std::FILE* f = std::fopen(path, "w");  // the next deploy is broken
  REQUIRE(f != nullptr);
  std::fclose(f);
  c.signal(SIGHUP);
  const auto line = c.wait_for("reload aborted", std::chrono::seconds(5));
  ::unlink(path);
  REQUIRE(line);
  CHECK(line->find("before listening") != std::string::npos);
  CHECK(line->find("slot 0 keeps worker " + std::to_string(before.at(0))) != std::string::npos);
  CHECK(c.count("reload done") == 0);
  CHECK(c.count("started worker") == 3);  // two at start, one new worker for slot 0, none for slot 1
  for (int i = 0; i < 20; ++i) {
    const who w = who_answered(http_get(port, "/pid"));
    REQUIRE(w.slot >= 0);
    CHECK(w.pid == before.at(w.slot));
  }
}

TEST_CASE("a new worker that does not listen within --listen-timeout aborts the reload") {
  char path[] = "/tmp/hive-fixture-hang-XXXXXX";
  const int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  ::close(fd);
  ::unlink(path);
  cluster_process c(fixture_args({"--listen-timeout", "500ms"}), {std::string("FIXTURE_HANG_FILE=") + path});
  const auto port = c.wait_listening();
  REQUIRE(port != 0);
  const auto before = pids_by_slot(port);
  std::FILE* f = std::fopen(path, "w");
  REQUIRE(f != nullptr);
  std::fclose(f);
  c.signal(SIGHUP);
  const auto line = c.wait_for("reload aborted", std::chrono::seconds(5));
  ::unlink(path);
  REQUIRE(line);
  CHECK(line->find("did not report listening within 0.5 s") != std::string::npos);
  CHECK(pids_by_slot(port) == before);
}

TEST_CASE("SIGTERM: the slow request in flight completes, queued connections answered, exit 0") {
  cluster_process c(fixture_args());
  const auto port = c.wait_listening();
  REQUIRE(port != 0);
  client slow(port);
  REQUIRE(slow.send("GET /slow?ms=1500 HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  c.signal(SIGTERM);
  REQUIRE(c.wait_for("stopping (SIGTERM)"));
  // During the drain a new connection is still accepted and answered, with Connection: close.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto late = http_get(port, "/pid");
  CHECK_MESSAGE(late.ok, c.log());
  CHECK(late.res.status == 200);
  CHECK(late.res.header("Connection") == std::optional<std::string>("close"));
  // A keep-alive client accepted in the drain window is answered, then closed.
  client late_keep(port);
  const auto r = request_on(late_keep, "GET", "/pid");
  CHECK(r.ok);
  CHECK(r.res.status == 200);
  CHECK(late_keep.wait_closed(std::chrono::seconds(2)));
  auto rr = slow.read_responses(1, std::chrono::seconds(5));
  REQUIRE(rr.responses.size() == 1);
  CHECK(rr.responses[0].status == 200);
  CHECK(rr.responses[0].body == "slow done\n");
  CHECK(rr.responses[0].header("Connection") == std::optional<std::string>("close"));
  CHECK(c.wait_exit(std::chrono::seconds(5)) == 0);
  CHECK(c.count("stopped") == 1);
  CHECK(c.count("shutdown timeout") == 0);
}

TEST_CASE("SIGTERM: a request slower than --shutdown-timeout is cut and the primary still exits 0") {
  cluster_process c(fixture_args({"--shutdown-timeout", "1s"}));
  const auto port = c.wait_listening();
  REQUIRE(port != 0);
  client slow(port);
  REQUIRE(slow.send("GET /slow?ms=10000 HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  c.signal(SIGTERM);
  CHECK(c.wait_exit(std::chrono::seconds(4)) == 0);
  CHECK(slow.wait_closed(std::chrono::seconds(1)));
  // The worker cuts it itself, shortly before the primary would kill it (stop_hook_test has the
  // kill, for a stop hook that hangs).
  CHECK(c.count("drain deadline: closing 1 connections") == 1);
}

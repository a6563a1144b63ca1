// examples/shared-state as a black box over loopback: a counter incremented through every worker
// is exact, the cache expires, and a rolling reload or a worker killed with SIGKILL keeps both.
#include <csignal>
#include <cstdlib>
#include <thread>

#include <doctest/doctest.h>

#include "cluster_test_util.hpp"

using namespace hive::test;

namespace {

std::vector<std::string> shared_state_args() {
  // cluster_process runs what HIVE_CLUSTER_FIXTURE names; here, the example.
  ::setenv("HIVE_CLUSTER_FIXTURE", std::getenv("HIVE_SHARED_STATE"), 1);
  return fixture_args();
}

http_result put(std::uint16_t port, const std::string& path, const std::string& body) {
  client c(port);
  return request_on(c, "PUT", path, body);
}

}  // namespace

TEST_CASE("examples/shared-state: counter exact across workers, cache TTL, data survives reload and kill -9") {
  if (std::getenv("HIVE_SHARED_STATE") == nullptr) {
    MESSAGE("skipped: built without the examples");
    return;
  }
  cluster_process c(shared_state_args());
  const auto port = c.wait_listening();
  REQUIRE(port != 0);
  const auto pids = pids_by_slot(port);
  REQUIRE(pids.size() == 2);  // both workers answer, so both increment

  // 4 clients x 100 increments on keep-alive connections, spread over both workers.
  std::vector<std::thread> ts;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&, t] {
      auto conn = connect_to_slot(port, t % 2);
      if (!conn) return;
      for (int i = 0; i < 100; ++i) {
        if (request_on(*conn, "POST", "/counter").res.status == 200) ++ok;
      }
    });
  }
  for (auto& t : ts) t.join();
  CHECK(ok == 400);
  CHECK(http_get(port, "/counter").res.body == "400");
  CHECK(http_post(port, "/counter", "").res.body == "401");

  CHECK(put(port, "/cache/long", "kept").res.status == 200);
  CHECK(put(port, "/cache/short?ttl=1", "brief").res.status == 200);
  CHECK(put(port, "/cache/bad?ttl=x", "no").res.status == 400);
  for (int i = 0; i < 4; ++i) {  // whichever worker answers
    CHECK(http_get(port, "/cache/short").res.body == "brief");
    CHECK(http_get(port, "/cache/long").res.body == "kept");
  }
  CHECK(http_get(port, "/cache/none").res.status == 404);

  // Kill -9 a worker: the primary restarts it; the data is the primary's, so it is all there.
  ::kill(pids.at(0), SIGKILL);
  REQUIRE(c.wait_for("restarting it", 10s));
  REQUIRE(c.wait_for("worker for slot 0 listening", 10s, 1));
  // A rolling reload replaces both workers.
  c.signal(SIGHUP);
  REQUIRE(c.wait_for("reload done", 20s));
  // Both slots have new workers: slot 0 started thrice (start, restart, reload), slot 1 twice.
  // (Old workers still draining may answer for a moment, so the log tells, not the pids.)
  // The workers' own lines may reach the log after the primary's "reload done" (two processes,
  // one pipe), so wait for them rather than count at once.
  CHECK(c.wait_for("worker for slot 0 listening", 10s, 2));
  CHECK(c.wait_for("worker for slot 1 listening", 10s, 1));
  for (int i = 0; i < 4; ++i) {
    CHECK(http_get(port, "/counter").res.body == "401");
    CHECK(http_get(port, "/cache/long").res.body == "kept");
  }
  // Published once through any worker, heard by each worker once. (The reload's old workers,
  // still subscribed while they drain, must be gone first or they would count too.)
  REQUIRE(c.wait_for("after draining (replaced by reload)", 30s));  // slow under sanitizers
  REQUIRE(c.wait_for("after draining (replaced by reload)", 30s, 1));
  for (int i = 0; i < 10; ++i) CHECK(http_post(port, "/publish", "news").res.status == 202);
  nlohmann::json heard;
  for (int i = 0; i < 100; ++i) {
    heard = nlohmann::json::parse(http_get(port, "/received").res.body, nullptr, false);
    if (heard == nlohmann::json{{"0", 10}, {"1", 10}}) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(heard == nlohmann::json{{"0", 10}, {"1", 10}});
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  CHECK(http_get(port, "/cache/short").res.status == 404);
  c.signal(SIGTERM);
  CHECK(c.wait_exit(20s) == 0);
}

TEST_CASE("examples/shared-state with --workers 0: publish and request/reply stay in the process") {
  if (std::getenv("HIVE_SHARED_STATE") == nullptr) {
    MESSAGE("skipped: built without the examples");
    return;
  }
  ::setenv("HIVE_CLUSTER_FIXTURE", std::getenv("HIVE_SHARED_STATE"), 1);
  cluster_process c({"--host", "127.0.0.1", "--port", "0", "--workers", "0"});
  const auto port = c.wait_listening();
  REQUIRE(port != 0);
  for (int i = 0; i < 3; ++i) CHECK(http_post(port, "/publish", "news").res.status == 202);
  nlohmann::json heard;
  for (int i = 0; i < 100; ++i) {
    heard = nlohmann::json::parse(http_get(port, "/received").res.body, nullptr, false);
    if (heard == nlohmann::json{{"0", 3}}) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(heard == nlohmann::json{{"0", 3}});
  CHECK(http_post(port, "/counter", "").res.body == "1");
}

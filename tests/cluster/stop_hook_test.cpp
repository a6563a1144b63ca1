// cluster.on_worker_stop: what a worker's stop hook writes reaches the disk, whether the worker
// stops for SIGTERM, for a reload, or with a request still running at the drain's deadline; a
// hook that hangs is ended by the primary at --shutdown-timeout.
#include <signal.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <doctest/doctest.h>

#include "cluster_test_util.hpp"

using namespace hive::test;

namespace stop_hook {

// A fresh directory for the fixture's per-worker files, removed afterwards.
struct temp_dir {
  temp_dir() {
    char tmpl[] = "/tmp/hive-stop-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~temp_dir() { std::filesystem::remove_all(path); }
  std::string file(int pid) const { return path + "/" + std::to_string(pid); }
  std::string path;
};

std::string contents(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string expected(int slot) {
  return "started slot=" + std::to_string(slot) + "\nstopped slot=" + std::to_string(slot) + "\n";
}

// Waits until `c` logged `text` at least `n` times.
bool logged(cluster_process& c, const std::string& text, std::size_t n) {
  for (int i = 0; i < 100 && c.count(text) < n; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  return c.count(text) >= n;
}

}  // namespace stop_hook

using stop_hook::contents;
using stop_hook::expected;

TEST_CASE("on_worker_stop: after SIGTERM each worker's file holds what its stop hook wrote") {
  stop_hook::temp_dir dir;
  cluster_process c(fixture_args(), {"FIXTURE_STOP_DIR=" + dir.path});
  const auto port = c.wait_listening();
  REQUIRE(port != 0);
  const auto pids = pids_by_slot(port);
  REQUIRE(pids.size() == 2);
  // Written at start but still in the ofstream's buffer.
  CHECK(contents(dir.file(pids.at(0))).empty());
  c.signal(SIGTERM);
  CHECK(c.wait_exit(std::chrono::seconds(5)) == 0);
  for (const auto& [slot, pid] : pids) CHECK(contents(dir.file(pid)) == expected(slot));
  CHECK(c.count("shutdown timeout") == 0);
}

TEST_CASE("on_worker_stop: a reload's old workers run their hooks after draining") {
  stop_hook::temp_dir dir;
  cluster_process c(fixture_args(), {"FIXTURE_STOP_DIR=" + dir.path});
  const auto port = c.wait_listening();
  REQUIRE(port != 0);
  const auto before = pids_by_slot(port);
  REQUIRE(before.size() == 2);
  c.signal(SIGHUP);
  REQUIRE(c.wait_for("reload done", std::chrono::seconds(10)));
  REQUIRE(stop_hook::logged(c, "after draining (replaced by reload)", 2));
  for (const auto& [slot, pid] : before) CHECK(contents(dir.file(pid)) == expected(slot));
  const auto after = pids_by_slot(port);
  REQUIRE(after.size() == 2);
  c.signal(SIGTERM);
  CHECK(c.wait_exit(std::chrono::seconds(5)) == 0);
  for (const auto& [slot, pid] : after) CHECK(contents(dir.file(pid)) == expected(slot));
}

TEST_CASE("on_worker_stop: a request slower than --shutdown-timeout is cut by the worker in time for its hook") {
  stop_hook::temp_dir dir;
  cluster_process c(fixture_args({"--shutdown-timeout", "1s"}), {"FIXTURE_STOP_DIR=" + dir.path});
  const auto port = c.wait_listening();
  REQUIRE(port != 0);
  int pid = 0;
  auto slow = connect_to_slot(port, 0, &pid);
  REQUIRE(slow);
  REQUIRE(slow->send("GET /slow?ms=10000 HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  c.signal(SIGTERM);
  CHECK(c.wait_exit(std::chrono::seconds(4)) == 0);
  CHECK(slow->wait_closed(std::chrono::seconds(1)));
  CHECK(c.count("worker for slot 0 drain deadline: closing 1 connections") == 1);
  CHECK(c.count("shutdown timeout") == 0);  // nobody had to be killed
  CHECK(contents(dir.file(pid)) == expected(0));
}

TEST_CASE("on_worker_stop: a hook that hangs is killed at --shutdown-timeout; the primary exits 0") {
  stop_hook::temp_dir dir;
  cluster_process c(fixture_args({"--shutdown-timeout", "1s"}),
                    {"FIXTURE_STOP_DIR=" + dir.path, "FIXTURE_STOP_SLEEP_MS=10000"});
  const auto port = c.wait_listening();
  REQUIRE(port != 0);
  const auto pids = pids_by_slot(port);
  REQUIRE(pids.size() == 2);
  c.signal(SIGTERM);
  CHECK(c.wait_exit(std::chrono::seconds(4)) == 0);
  CHECK(c.count("shutdown timeout: killing 2 workers") == 1);
  // What the hook wrote before it hung is on disk.
  for (const auto& [slot, pid] : pids) CHECK(contents(dir.file(pid)) == expected(slot));
}

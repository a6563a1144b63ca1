// The primary's supervision, with real processes and signals: serving, crash and restart,
// crash loops, a second instance, a hung worker.
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <map>
#include <thread>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <doctest/doctest.h>

#include "cluster_test_util.hpp"

using namespace hive::test;

TEST_CASE("both slots serve, each worker knows its slot, stats sum every worker") {
  cluster_process c(fixture_args());
  const auto port = c.wait_listening();
  REQUIRE(port != 0);
  std::set<int> slots;
  std::set<int> pids;
  for (int i = 0; i < 60; ++i) {
    auto r = http_get(port, "/pid");
    REQUIRE(r.ok);
    const auto j = nlohmann::json::parse(r.res.body);
    CHECK(j["count"] == 2);
    slots.insert(j["slot"].get<int>());
    pids.insert(j["pid"].get<int>());
  }
  CHECK(slots == std::set<int>{0, 1});
  CHECK(pids.size() == 2);
  CHECK(!pids.count(c.pid()));  // the primary never answers
  const auto stats = nlohmann::json::parse(http_get(port, "/stats").res.body);
  CHECK(stats["requests"].get<int>() >= 60);  // counted when answered: not the /stats request itself
  CHECK(stats["responses"]["2xx"].get<int>() >= 60);
  CHECK(stats["workers"] == 2);
  CHECK(c.count("fixture fork slot=") == 2);
  CHECK(c.count("fixture online slot=") == 2);
  CHECK(c.count("fixture listening slot=") == 2);
  CHECK(c.wait_for("worker for slot 1 listening"));
}

TEST_CASE("kill -9 a worker: replaced, the other never interrupted, queued connections answered") {
  cluster_process c(fixture_args(), {"FIXTURE_RESTART_DELAY_MS=600"});
  const auto port = c.wait_listening();
  REQUIRE(port != 0);
  int survivor = 0;
  auto keep = connect_to_slot(port, 0, &survivor);
  REQUIRE(keep);
  const auto before = pids_by_slot(port);
  REQUIRE(before.size() == 2);
  const int victim = before.at(1);

  REQUIRE(::kill(victim, SIGKILL) == 0);
  // While slot 1 is down (its successor takes 600 ms to start), open connections: about half
  // land in its listener's queue and must wait there, not be reset.
  std::vector<std::unique_ptr<client>> waiting;
  for (int i = 0; i < 24; ++i) {
    auto cl = std::make_unique<client>(port);
    REQUIRE(cl->connected());
    REQUIRE(cl->send("GET /pid HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
    waiting.push_back(std::move(cl));
  }
  // The survivor keeps answering on its keep-alive connection meanwhile.
  for (int i = 0; i < 20; ++i) {
    const who w = who_answered(request_on(*keep, "GET", "/pid"));
    CHECK(w.pid == survivor);
    std::this_thread::sleep_for(std::chrono::milliseconds(40));
  }
  std::set<int> answered_by;
  for (auto& cl : waiting) {
    auto rr = cl->read_responses(1, std::chrono::seconds(5));
    REQUIRE(rr.responses.size() == 1);
    CHECK(rr.responses[0].status == 200);
    answered_by.insert(nlohmann::json::parse(rr.responses[0].body)["pid"].get<int>());
  }
  CHECK(c.wait_for("was killed by SIGKILL"));
  CHECK(c.wait_for("restarting it now"));
  const auto after = pids_by_slot(port);
  REQUIRE(after.size() == 2);
  CHECK(after.at(0) == survivor);
  CHECK(after.at(1) != victim);
  CHECK(answered_by.count(after.at(1)) == 1);  // the successor served the queued connections
  CHECK(!answered_by.count(victim));
  CHECK(c.wait_for("fixture exit slot=1 pid=" + std::to_string(victim) + " code=-1 signal=9"));
  CHECK(c.wait_for("fixture disconnect slot=1 pid=" + std::to_string(victim)));
  const auto stats = nlohmann::json::parse(http_get(port, "/stats").res.body);
  CHECK(stats["restarts"] == 1);
}

TEST_CASE("a crash-looping slot is given up and its listener closed; the other slot serves all") {
  cluster_process c(fixture_args({"--max-restarts", "2", "--min-uptime", "5s"}), {"FIXTURE_CRASH_SLOT=1"});
  REQUIRE(c.wait_for("slot 1 given up", std::chrono::seconds(10)));
  CHECK(c.count("worker for slot 1 failed to start") == 3);  // the first start and 2 restarts
  CHECK(c.wait_for("restarting it in 100 ms"));               // back-off after the first retry
  const auto port = c.wait_listening();
  REQUIRE(port != 0);
  for (int i = 0; i < 30; ++i) {
    const who w = who_answered(http_get(port, "/pid", std::chrono::seconds(2)));
    CHECK(w.slot == 0);
  }
  CHECK(c.wait_exit(std::chrono::milliseconds(100)) == -1);  // still running
}

TEST_CASE("every slot given up: the primary exits non-zero") {
  cluster_process c(fixture_args({"--max-restarts", "1", "--min-uptime", "5s"}), {"FIXTURE_CRASH_SLOT=all"});
  CHECK(c.wait_exit(std::chrono::seconds(10)) == 1);
  CHECK(c.wait_for("every slot was given up", std::chrono::seconds(2)));  // the log may trail the exit
  CHECK(c.count("every slot was given up") == 1);
}

TEST_CASE("a second instance on the same port is refused before it forks") {
  cluster_process first(fixture_args());
  const auto port = first.wait_listening();
  REQUIRE(port != 0);
  cluster_process second({"--host", "127.0.0.1", "--port", std::to_string(port), "--workers", "2"});
  CHECK(second.wait_exit(std::chrono::seconds(5)) == 1);
  CHECK(second.wait_for("is in use", std::chrono::seconds(1)));
  CHECK(second.count("started worker") == 0);
  for (int i = 0; i < 10; ++i) CHECK(who_answered(http_get(port, "/pid")).pid != 0);
}

TEST_CASE("two instances started at the same moment: one serves, the other is refused") {
  // A free port, then two instances on it at once. Each pauses 300 ms between its "address free"
  // check and its binds: without the check and the binds being one step, both pass the check
  // and then share the port through SO_REUSEPORT.
  std::uint16_t port = 0;
  {
    asio::io_context io;
    asio::ip::tcp::acceptor probe(io, {asio::ip::make_address("127.0.0.1"), 0});
    port = probe.local_endpoint().port();
  }
  const std::vector<std::string> args{"--host", "127.0.0.1", "--port", std::to_string(port), "--workers", "1"};
  cluster_process a(args, {"HIVE_DEBUG_BIND_DELAY_MS=300"});
  cluster_process b(args, {"HIVE_DEBUG_BIND_DELAY_MS=300"});
  const int exit_a = a.wait_exit(std::chrono::seconds(5));
  const int exit_b = b.wait_exit(std::chrono::milliseconds(100));
  // Exactly one exits 1 ("in use"), the other keeps serving.
  CHECK(((exit_a == 1) != (exit_b == 1)));
  CHECK(((exit_a == -1) != (exit_b == -1)));
  cluster_process& refused = exit_a == 1 ? a : b;
  CHECK(refused.count("is in use") == 1);
  CHECK(refused.count("started worker") == 0);
}

TEST_CASE("a worker sent SIGTERM on its own is recycled: no back-off, not a crash, never given up") {
  cluster_process c(fixture_args({"--max-restarts", "2", "--min-uptime", "60s"}));
  const auto port = c.wait_listening();
  REQUIRE(port != 0);
  for (int round = 1; round <= 4; ++round) {
    const auto pids = pids_by_slot(port);
    REQUIRE(pids.count(0) == 1);
    ::kill(pids.at(0), SIGTERM);  // to that worker alone: an operator recycling it
    REQUIRE(c.wait_for("(its own SIGTERM: recycled); starting a new one now", 10s, static_cast<std::size_t>(round - 1)));
    REQUIRE(c.wait_for("worker for slot 0 listening", 10s, static_cast<std::size_t>(round)));
  }
  // Four clean exits within --min-uptime with --max-restarts 2: as crashes they would have given
  // the slot up and waited 100 ms, 150 ms … between them.
  CHECK(c.count("given up") == 0);
  CHECK(c.count("restarting it") == 0);
  const auto stats = nlohmann::json::parse(http_get(port, "/stats").res.body, nullptr, false);
  CHECK(stats["restarts"] == 0);
  const auto pids = pids_by_slot(port);
  CHECK(pids.size() == 2);
}

TEST_CASE("a worker stuck in a busy loop is killed by the heartbeat and replaced") {
  cluster_process c(fixture_args({"--heartbeat-timeout", "2s"}));
  const auto port = c.wait_listening();
  REQUIRE(port != 0);
  int stuck = 0;
  auto conn = connect_to_slot(port, 1, &stuck);
  REQUIRE(conn);
  REQUIRE(conn->send("GET /spin HTTP/1.1\r\nHost: t\r\n\r\n"));
  const auto line = c.wait_for("has not stamped its heartbeat", std::chrono::seconds(6));
  REQUIRE(line);
  CHECK(line->find("worker " + std::to_string(stuck) + " (slot 1)") != std::string::npos);
  CHECK(c.wait_for("worker " + std::to_string(stuck) + " (slot 1) was killed by SIGKILL"));
  CHECK(c.wait_for("worker for slot 1 listening", std::chrono::seconds(3), 1));
  const auto after = pids_by_slot(port);
  REQUIRE(after.size() == 2);
  CHECK(after.at(1) != stuck);
}

TEST_CASE("a short heartbeat timeout does not kill idle, healthy workers") {
  // The heartbeat rides each worker's coarse timer, which otherwise ticks once a second with the
  // default request timeouts: it must tick faster than the heartbeat timeout.
  cluster_process c(fixture_args({"--heartbeat-timeout", "400ms"}));
  const auto port = c.wait_listening();
  REQUIRE(port != 0);
  const auto before = pids_by_slot(port);
  REQUIRE(before.size() == 2);
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // idle: only the tick stamps
  CHECK_FALSE(c.wait_for("has not stamped its heartbeat", std::chrono::milliseconds(10)));
  CHECK(pids_by_slot(port) == before);
}

namespace {
bool process_gone(pid_t pid) {
  // An orphan is reaped by init: gone, or a zombie for the moment in between.
  if (::kill(pid, 0) != 0) return true;
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const auto close = all.rfind(')');
  return close == std::string::npos || all.substr(close + 2, 1) == "Z";
}
}  // namespace

TEST_CASE("a slow start hook is bounded by the listen timeout, not the heartbeat") {
  cluster_process c(fixture_args({"--heartbeat-timeout", "1s", "--listen-timeout", "6s"}),
                    {"FIXTURE_START_DELAY_MS=2500"});
  const auto port = c.wait_listening(std::chrono::seconds(15));
  if (port == 0) MESSAGE("the cluster printed:\n" << c.log());
  REQUIRE(port != 0);
  CHECK(c.count("has not stamped its heartbeat") == 0);
  CHECK(c.count("killing it") == 0);
  CHECK(pids_by_slot(port).size() == 2);
}

TEST_CASE("a stopped and resumed cluster (Ctrl-Z, a frozen container) kills no worker") {
  cluster_process c(fixture_args({"--heartbeat-timeout", "1s"}));
  const auto port = c.wait_listening();
  REQUIRE(port != 0);
  const auto before = pids_by_slot(port);
  REQUIRE(before.size() == 2);
  // What SIGSTOP to the process group does, one process at a time; the primary resumes first,
  // the order in which it would most likely look before the workers stamp.
  std::vector<pid_t> all{c.pid()};
  for (const auto& [slot, pid] : before) all.push_back(pid);
  for (pid_t p : all) REQUIRE(::kill(p, SIGSTOP) == 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  for (pid_t p : all) REQUIRE(::kill(p, SIGCONT) == 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  CHECK(c.count("has not stamped its heartbeat") == 0);
  CHECK(pids_by_slot(port) == before);
}

TEST_CASE("workers do not outlive a primary killed with SIGKILL, even a stuck one") {
  // Started with SIGALRM ignored, as a launcher may leave it: the worker must not rely on that.
  struct sigaction ign {}, old {};
  ign.sa_handler = SIG_IGN;
  ::sigaction(SIGALRM, &ign, &old);
  cluster_process c(fixture_args({"--shutdown-timeout", "1s"}));
  ::sigaction(SIGALRM, &old, nullptr);
  const auto port = c.wait_listening();
  REQUIRE(port != 0);
  const auto workers = pids_by_slot(port);
  REQUIRE(workers.size() == 2);
  int stuck = 0;
  auto conn = connect_to_slot(port, 1, &stuck);
  REQUIRE(conn);
  REQUIRE(conn->send("GET /spin HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  REQUIRE(::kill(c.pid(), SIGKILL) == 0);
  // The healthy worker drains on the channel's EOF; the stuck one is ended by the kernel's
  // parent-death signal and an alarm after --shutdown-timeout.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(6);
  bool gone = false;
  while (!gone && std::chrono::steady_clock::now() < deadline) {
    gone = process_gone(workers.at(0)) && process_gone(stuck);
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(process_gone(workers.at(0)));
  CHECK(process_gone(stuck));
  if (!process_gone(stuck)) ::kill(stuck, SIGKILL);
}

TEST_CASE("no descriptor of the primary or a worker leaks into a program it runs (close-on-exec)") {
  cluster_process c(fixture_args());
  const auto port = c.wait_listening();
  REQUIRE(port != 0);
  const auto workers = pids_by_slot(port);
  REQUIRE(workers.size() == 2);
  std::vector<pid_t> all{c.pid()};
  for (const auto& [slot, pid] : workers) all.push_back(pid);
  for (pid_t pid : all) {
    const std::string dir = "/proc/" + std::to_string(pid) + "/fdinfo/";
    int checked = 0;
    for (int fd = 3; fd < 256; ++fd) {
      std::ifstream f(dir + std::to_string(fd));
      if (!f) continue;
      std::string key;
      std::string flags;
      while (f >> key) {
        if (key == "flags:") {
          f >> flags;
          break;
        }
      }
      char target[256] = {};
      (void)!::readlink(("/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd)).c_str(), target,
                        sizeof target - 1);
      CAPTURE(pid);
      CAPTURE(fd);
      CAPTURE(target);
      const unsigned long bits = std::stoul(flags, nullptr, 8);
      CHECK((bits & 02000000UL) != 0);  // O_CLOEXEC
      ++checked;
    }
    CHECK(checked > 0);
  }
}

TEST_CASE("SIGUSR2 sent to a worker while its primary lives changes nothing") {
  // Workers keep SIGUSR2 for the primary's death signal; one from an operator must not arm it.
  cluster_process c(fixture_args({"--shutdown-timeout", "1s"}));
  const auto port = c.wait_listening();
  REQUIRE(port != 0);
  const auto before = pids_by_slot(port);
  REQUIRE(before.size() == 2);
  REQUIRE(::kill(before.at(0), SIGUSR2) == 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(2600));  // past the 2 s grace
  CHECK(c.count("killed by") == 0);
  CHECK(pids_by_slot(port) == before);
}

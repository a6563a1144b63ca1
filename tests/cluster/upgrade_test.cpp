// Binary upgrade on SIGUSR2: a copy of the fixture in a temporary directory is started, the file
// is replaced on disk, and SIGUSR2 makes the running primary start what is there now on the same
// listeners. Under load (keep-alive and `Connection: close`), with the pid file and systemd's
// notifications; then new builds that fail (exit at once, never listen, workers that crash)
// must leave the old primary serving.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include <doctest/doctest.h>

#include "cluster_test_util.hpp"
#include "notify_socket.hpp"

using namespace hive::test;

namespace upgrade_test {

// A temporary directory holding `server`, a copy of the fixture, that the tests replace.
class install_dir {
 public:
  install_dir() {
    const char* fixture = std::getenv("HIVE_CLUSTER_FIXTURE");
    REQUIRE(fixture != nullptr);  // before the directory: a throwing constructor runs no destructor
    fixture_ = fixture;
    char tmpl[] = "/tmp/hive-upgrade-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    if (std::system(("cp " + fixture_ + " " + server()).c_str()) != 0) {
      std::system(("rm -rf " + dir_).c_str());
      FAIL("cannot copy the fixture to " << server());
    }
  }
  ~install_dir() { std::system(("rm -rf " + dir_).c_str()); }
  std::string server() const { return dir_ + "/server"; }
  std::string pid_file() const { return dir_ + "/server.pid"; }
  const std::string& fixture() const { return fixture_; }
  // Replaces `server` the way a package manager does: a new file renamed over the old one (the
  // running program keeps its now-deleted file).
  void replace_with_script(const std::string& body) const {
    const std::string tmp = dir_ + "/server.new";
    std::ofstream(tmp) << "#!/bin/sh\n" << body << "\n";
    REQUIRE(::chmod(tmp.c_str(), 0755) == 0);
    REQUIRE(::rename(tmp.c_str(), server().c_str()) == 0);
  }

 private:
  std::string dir_, fixture_;
};

// The pid in `path`, or 0 (missing, or not yet written).
int read_pid(const std::string& path) {
  std::ifstream in(path);
  int pid = 0;
  in >> pid;
  return pid;
}

bool wait_until(const std::function<bool()>& cond, std::chrono::milliseconds timeout = 10s) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return cond();
}

// /pid in a loop: keep-alive connections (a new one after `Connection: close`, which a draining
// worker sends) and a fresh connection per request. Every request must get its 200.
struct upgrade_load {
  std::atomic<int> ok{0}, failed{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;

  void keep_alive(std::uint16_t port) {
    threads.emplace_back([this, port] {
      auto c = std::make_unique<client>(port);
      while (!stop) {
        auto r = request_on(*c, "GET", "/pid");
        (r.ok && r.res.status == 200 ? ok : failed)++;
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
        (r.ok && r.res.status == 200 ? ok : failed)++;
      }
    });
  }
  void finish() {
    stop = true;
    for (auto& t : threads) t.join();
  }
};

// "… as new primary 1234 on …" → 1234
int new_primary_pid(const std::string& line) {
  const std::string key = "as new primary ";
  const auto at = line.find(key);
  return at == std::string::npos ? 0 : std::atoi(line.c_str() + at + key.size());
}

bool alive(int pid) { return pid > 0 && ::kill(pid, 0) == 0; }

}  // namespace upgrade_test

using namespace upgrade_test;

TEST_CASE("SIGUSR2 under load: the binary on disk takes over, 0 failed requests, pid file and MAINPID handed over") {
  install_dir dir;
  notify_socket ns;
  // A generous --listen-timeout (the last one given wins): under a sanitizer on a loaded machine
  // the new primary may take seconds to start, and a rollback here would be a false failure.
  cluster_process c(fixture_args({"--pid-file", dir.pid_file(), "--listen-timeout", "20s"}),
                    {"NOTIFY_SOCKET=" + ns.path()}, false, {}, dir.server());
  const auto port = c.wait_listening();
  REQUIRE(port != 0);
  REQUIRE(!ns.until("READY=1").empty());
  CHECK(wait_until([&] { return read_pid(dir.pid_file()) == c.pid(); }));
  const auto before = pids_by_slot(port);
  REQUIRE(before.size() == 2);
  CHECK(http_get(port, "/version").res.body == "1");

  // The new build: the same server, answering /version with 2.
  dir.replace_with_script("FIXTURE_VERSION=2 exec " + dir.fixture() + " \"$@\"");
  upgrade_load l;
  l.keep_alive(port);
  l.keep_alive(port);
  l.fresh_connections(port);
  std::this_thread::sleep_for(300ms);
  c.signal(SIGUSR2);
  const auto started = c.wait_for("as new primary ");
  REQUIRE(started);
  const int next = new_primary_pid(*started);
  REQUIRE(next > 0);
  CHECK(started->find(dir.server()) != std::string::npos);  // the path, not "(deleted)"
  CHECK(!ns.until("RELOADING=1").empty());
  REQUIRE(c.wait_for("told the previous primary"));
  const std::string handed = ns.until("MAINPID=");
  CHECK(handed.find("MAINPID=" + std::to_string(next) + "\nREADY=1") == 0);
  CHECK(c.wait_exit(15s) == 0);  // the old primary drained its workers and left
  std::this_thread::sleep_for(300ms);
  l.finish();
  MESSAGE("requests: " << l.ok.load() << " ok, " << l.failed.load() << " failed");
  CHECK(l.failed == 0);
  CHECK(l.ok > 0);

  // The new build answers on every slot, from new workers.
  const auto after = pids_by_slot(port);
  REQUIRE(after.size() == 2);
  CHECK(after.at(0) != before.at(0));
  CHECK(after.at(1) != before.at(1));
  for (int i = 0; i < 10; ++i) CHECK(http_get(port, "/version").res.body == "2");
  CHECK(read_pid(dir.pid_file()) == next);  // the new primary's, left alone by the old one
  CHECK(alive(next));
  CHECK(c.count("adopted 2 listeners on port " + std::to_string(port)) == 1);

  // The single-instance check still refuses a stranger on the port.
  cluster_process stranger({"--host", "127.0.0.1", "--port", std::to_string(port), "--workers", "1"});
  CHECK(stranger.wait_exit() == 1);

  // The new primary stops as any does, and takes its pid file with it.
  REQUIRE(::kill(next, SIGTERM) == 0);
  CHECK(c.wait_for("hive " + std::to_string(next) + " stopped"));
  CHECK(wait_until([&] { return read_pid(dir.pid_file()) == 0; }));
}

TEST_CASE("SIGUSR2 with a broken new build: the old primary stops it and keeps serving") {
  install_dir dir;
  notify_socket ns;
  // Started by name through $PATH, as a shell would: the upgrade finds the file there.
  const std::string dir_only = dir.server().substr(0, dir.server().rfind('/'));
  cluster_process c(fixture_args({"--pid-file", dir.pid_file()}), {"NOTIFY_SOCKET=" + ns.path()}, false,
                    {"/usr/bin/env", "PATH=" + dir_only + ":/usr/bin:/bin"}, "server");
  const auto port = c.wait_listening();
  REQUIRE(port != 0);
  const auto before = pids_by_slot(port);
  REQUIRE(before.size() == 2);
  upgrade_load l;
  l.keep_alive(port);
  l.fresh_connections(port);

  // 1. It exits at once.
  dir.replace_with_script("exit 1");
  c.signal(SIGUSR2);
  CHECK(c.wait_for("started " + dir.server() + " as new primary "));
  auto failed = c.wait_for("upgrade failed: new primary ");
  REQUIRE(failed);
  CHECK(failed->find("ended before its workers listened") != std::string::npos);
  CHECK(c.wait_for("exited with code 1"));
  CHECK(!ns.until("STATUS=upgrade failed").empty());

  // 2. It never listens: stopped (SIGTERM) at --listen-timeout (3 s here).
  dir.replace_with_script("exec sleep 60");
  c.signal(SIGUSR2);
  // Meanwhile a reload is refused: its workers would run the old code.
  REQUIRE(c.wait_for("as new primary ", 10s, 1));
  c.signal(SIGHUP);
  CHECK(c.wait_for("reload refused (SIGHUP): new primary "));
  failed = c.wait_for("upgrade failed: new primary ", 10s, 1);
  REQUIRE(failed);
  CHECK(failed->find("did not have every worker listening within 3") != std::string::npos);
  CHECK(c.wait_for("was killed by signal 15"));

  // 3. A real hive whose workers crash at start: its primary keeps restarting them; stopped at
  // the timeout, it drains and exits 0.
  // (Or, should every slot be given up first, it exits 1 by itself: failed either way.)
  dir.replace_with_script("FIXTURE_CRASH_SLOT=all exec " + dir.fixture() + " \"$@\"");
  c.signal(SIGUSR2);
  const auto third = c.wait_for("as new primary ", 10s, 2);
  REQUIRE(third);
  const std::string third_pid = std::to_string(new_primary_pid(*third));
  CHECK(c.wait_for("fixture: told to crash at start"));  // it was a real hive this time
  REQUIRE(c.wait_for("upgrade failed: new primary " + third_pid, 10s));
  CHECK(c.wait_for("new primary " + third_pid + " exited with code", 10s));

  l.finish();
  MESSAGE("requests: " << l.ok.load() << " ok, " << l.failed.load() << " failed");
  CHECK(l.failed == 0);
  CHECK(l.ok > 0);
  // The old primary and its workers serve as before, and the pid file still names it.
  CHECK(pids_by_slot(port) == before);
  CHECK(http_get(port, "/version").res.body == "1");
  CHECK(read_pid(dir.pid_file()) == c.pid());
  CHECK(c.count("told the previous primary") == 0);
  c.signal(SIGTERM);
  CHECK(c.wait_exit() == 0);
  CHECK(read_pid(dir.pid_file()) == 0);
}

TEST_CASE("--pid-file and SIGUSR2 with --workers 0: written, ignored, removed") {
  install_dir dir;
  cluster_process c({"--host", "127.0.0.1", "--port", "0", "--workers", "0", "--pid-file", dir.pid_file()});
  REQUIRE(c.wait_listening() != 0);
  CHECK(wait_until([&] { return read_pid(dir.pid_file()) == c.pid(); }));
  c.signal(SIGUSR2);
  CHECK(c.wait_for("SIGUSR2 ignored"));
  CHECK(http_get(c.port(), "/pid").res.status == 200);
  c.signal(SIGTERM);
  CHECK(c.wait_exit() == 0);
  CHECK(read_pid(dir.pid_file()) == 0);
}

TEST_CASE("SIGUSR2 through a switched symbolic link, to a build with more workers") {
  // A release layout: `current` links to the running release; the deploy makes a new release
  // and switches the link. The upgrade must start the new release (argv[0], not the resolved
  // /proc/self/exe, which still names the old one).
  install_dir dir;
  const std::string root = dir.server() + ".d";
  REQUIRE(::mkdir(root.c_str(), 0755) == 0);
  REQUIRE(::mkdir((root + "/41").c_str(), 0755) == 0);
  REQUIRE(::mkdir((root + "/42").c_str(), 0755) == 0);
  REQUIRE(::rename(dir.server().c_str(), (root + "/41/server").c_str()) == 0);
  REQUIRE(::symlink("41", (root + "/current").c_str()) == 0);
  cluster_process c(fixture_args({"--workers", "1", "--listen-timeout", "20s"}), {}, false, {},
                    root + "/current/server");
  const auto port = c.wait_listening();
  REQUIRE(port != 0);
  CHECK(http_get(port, "/version").res.body == "1");
  // Release 42: the same arguments, and one more worker (the last --workers wins).
  {
    std::ofstream(root + "/42/server") << "#!/bin/sh\nFIXTURE_VERSION=2 exec " << dir.fixture()
                                       << " \"$@\" --workers 2\n";
  }
  REQUIRE(::chmod((root + "/42/server").c_str(), 0755) == 0);
  REQUIRE(::symlink("42", (root + "/next").c_str()) == 0);
  REQUIRE(::rename((root + "/next").c_str(), (root + "/current").c_str()) == 0);
  c.signal(SIGUSR2);
  const auto started = c.wait_for("as new primary ");
  REQUIRE(started);
  CHECK(started->find(root + "/current/server as new primary") != std::string::npos);
  REQUIRE(c.wait_for("adopted 1 listeners on port " + std::to_string(port) + " from the previous primary"));
  CHECK(c.wait_for("for 2 workers"));
  REQUIRE(c.wait_for("told the previous primary"));
  CHECK(c.wait_exit(15s) == 0);
  // Both slots answer: slot 1's socket was bound anew next to the inherited one, which the
  // single-instance check would have refused to a stranger.
  const auto after = pids_by_slot(port, 400);
  CHECK(after.size() == 2);
  CHECK(http_get(port, "/version").res.body == "2");
}

TEST_CASE("SIGTERM to the old primary while it drains after SIGUSR2: its request in flight completes") {
  // systemd stops the whole cgroup, the old primary included: its first SIGTERM must not kill
  // the workers still finishing requests (a second one does).
  install_dir dir;
  cluster_process c(fixture_args({"--workers", "1", "--listen-timeout", "20s", "--shutdown-timeout", "20s"}),
                    {}, false, {}, dir.server());
  const auto port = c.wait_listening();
  REQUIRE(port != 0);
  client slow(port);
  REQUIRE(slow.send("GET /slow?ms=6000 HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::this_thread::sleep_for(300ms);
  c.signal(SIGUSR2);
  const auto started = c.wait_for("as new primary ");
  REQUIRE(started);
  const int next = new_primary_pid(*started);
  REQUIRE(c.wait_for("told the previous primary", 15s));
  REQUIRE(c.wait_for("draining 1 workers, then exiting"));
  c.signal(SIGTERM);
  CHECK(c.wait_for("already draining after an upgrade (SIGTERM)"));
  auto rr = slow.read_responses(1, std::chrono::seconds(10));
  REQUIRE_MESSAGE(rr.responses.size() == 1, c.log());
  CHECK(rr.responses[0].body == "slow done\n");
  CHECK(c.wait_exit(10s) == 0);
  CHECK(c.count("killing") == 0);
  REQUIRE(::kill(next, SIGTERM) == 0);
  CHECK(c.wait_for("hive " + std::to_string(next) + " stopped"));
}

// systemd integration without systemd: a Unix datagram socket stands in for NOTIFY_SOCKET,
// systemd-socket-activate passes the listener, systemd-analyze checks deploy/'s units.
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "cluster_test_util.hpp"
#include "notify_socket.hpp"

using namespace hive::test;

namespace systemd_test {

std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

std::string source_dir() {
  const char* d = std::getenv("HIVE_SOURCE_DIR");
  return d != nullptr ? d : "";
}

}  // namespace systemd_test

using namespace systemd_test;

TEST_CASE("sd_notify: READY=1 once every slot listens, RELOADING=1 then READY=1, WATCHDOG=1, STOPPING=1") {
  notify_socket ns;
  cluster_process c(fixture_args(), {"NOTIFY_SOCKET=" + ns.path(), "WATCHDOG_USEC=200000"});
  const std::string ready = ns.until("READY=1");
  REQUIRE(!ready.empty());
  CHECK(ready.find("STATUS=serving on port") != std::string::npos);
  // Logged before READY=1 was sent; the test's log reader may not have read them yet.
  CHECK(c.wait_for("worker for slot 0 listening", 2s));
  CHECK(c.wait_for("worker for slot 1 listening", 2s));
  CHECK(!ns.until("WATCHDOG=1", 2s).empty());

  c.signal(SIGHUP);
  const std::string reloading = ns.until("RELOADING=1");
  REQUIRE(!reloading.empty());
  CHECK(reloading.find("MONOTONIC_USEC=") != std::string::npos);
  const std::string reloaded = ns.until("READY=1");
  REQUIRE(!reloaded.empty());
  CHECK(c.wait_for("reload done", 1s));  // READY=1 came after the reload, not before

  c.signal(SIGTERM);
  CHECK(!ns.until("STOPPING=1").empty());
  CHECK(c.wait_exit() == 0);
  // The workers never spoke for the service: they did not inherit NOTIFY_SOCKET.
  int readies = 0;
  for (const auto& d : ns.seen) readies += d.find("READY=1") != std::string::npos && d.find("RELOADING") == std::string::npos;
  CHECK(readies == 2);
}

TEST_CASE("socket activation: systemd-socket-activate's listener is adopted and shared by the workers") {
  if (::access("/usr/bin/systemd-socket-activate", X_OK) != 0) {
    MESSAGE("systemd-socket-activate not installed (Debian systemd): skipped");
    return;
  }
  const std::uint16_t port = free_port();
  const std::string addr = "127.0.0.1:" + std::to_string(port);
  // --port 1 would fail to bind: proof the fixture did not bind anything itself.
  cluster_process c(fixture_args({"--port", "1"}), {}, false,
                    {"/usr/bin/systemd-socket-activate", "-l", addr, "--fdname=web"});
  // systemd-socket-activate execs the program when the first connection arrives: that one
  // waits in the socket's queue and is answered by a worker once hive has adopted the socket.
  REQUIRE(c.wait_for("Listening on " + addr));
  const who first = who_answered(http_get(port, "/pid", 10s));
  CHECK(first.slot >= 0);
  REQUIRE(c.wait_for("adopted the socket-activated listener 'web' on port " + std::to_string(port)));
  REQUIRE(c.wait_listening() == port);
  std::set<int> slots;
  who last;
  for (int i = 0; i < 60 && slots.size() < 2; ++i) {
    last = who_answered(http_get(port, "/pid"));
    CHECK(last.slot >= 0);
    slots.insert(last.slot);
  }
  if (slots.size() < 2) {
    // Every connection wakes both workers and the first to run takes it: on a loaded machine the
    // same one may win every race. Stop the winner (a stopped process takes nothing) and the
    // other must take the next connection from the shared queue. (A /spin request to occupy the
    // winner could itself land on the other worker.)
    ::kill(last.pid, SIGSTOP);
    const who w = who_answered(http_get(port, "/pid", 10s));
    ::kill(last.pid, SIGCONT);
    CHECK(w.slot >= 0);
    slots.insert(w.slot);
  }
  CHECK(slots.size() == 2);  // one accept queue, both workers take from it
  c.signal(SIGTERM);
  CHECK(c.wait_exit() == 0);
}

TEST_CASE("socket activation with --workers 0: the one process serves the passed socket, READY=1, STOPPING=1") {
  if (::access("/usr/bin/systemd-socket-activate", X_OK) != 0) {
    MESSAGE("systemd-socket-activate not installed (Debian systemd): skipped");
    return;
  }
  const std::uint16_t port = free_port();
  const std::string addr = "127.0.0.1:" + std::to_string(port);
  notify_socket ns;
  // --port 1 would fail to bind: it serves the passed socket or nothing.
  // (systemd-socket-activate passes on only the variables named with -E.)
  cluster_process c({"--host", "127.0.0.1", "--port", "1", "--workers", "0"}, {}, false,
                    {"/usr/bin/systemd-socket-activate", "-l", addr, "--fdname=web", "-E", "NOTIFY_SOCKET=" + ns.path()});
  REQUIRE(c.wait_for("Listening on " + addr));
  const auto first = http_get(port, "/pid", 10s);  // waits in the queue while the fixture starts
  REQUIRE(first.ok);
  CHECK(first.res.status == 200);
  CHECK(nlohmann::json::parse(first.res.body).value("pid", 0) == c.pid());  // exec'd: one process
  CHECK(c.wait_for("adopted the socket-activated listener 'web' on port " + std::to_string(port)));
  CHECK(c.wait_listening() == port);
  const std::string ready = ns.until("READY=1");
  CHECK(ready.find("STATUS=serving on port " + std::to_string(port) + " in one process") != std::string::npos);
  for (int i = 0; i < 5; ++i) CHECK(http_get(port, "/pid").res.status == 200);
  c.signal(SIGTERM);
  CHECK(!ns.until("STOPPING=1").empty());
  CHECK(c.wait_exit() == 0);
}

TEST_CASE("deploy/hive.service and hive.socket pass systemd-analyze verify") {
  if (::access("/usr/bin/systemd-analyze", X_OK) != 0 || source_dir().empty()) {
    MESSAGE("systemd-analyze or HIVE_SOURCE_DIR missing: skipped");
    return;
  }
  // verify wants the ExecStart binary to exist: a copy of the units pointing at /bin/true.
  char tmpl[] = "/tmp/hive-units-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  const std::string cmd = "set -e; cd " + dir + "; for u in hive.service hive.socket; do sed "
                          "'s|^ExecStart=[^ ]*|ExecStart=/bin/true|' " + source_dir() +
                          "/deploy/$u > $u; done; systemd-analyze verify --man=no ./hive.socket ./hive.service 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string said;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p) != nullptr) said += buf;
  const int st = ::pclose(p);
  std::system(("rm -rf " + dir).c_str());
  CHECK_MESSAGE(said.empty(), said);
  CHECK(st == 0);
}

namespace systemd_test {

// "Uid:\t0\t0\t0\t0" → "0 0 0 0"
std::string status_line(int pid, const std::string& key) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.starts_with(key + ":")) {
      std::string v = line.substr(key.size() + 1);
      for (auto& ch : v) ch = ch == '\t' ? ' ' : ch;
      while (!v.empty() && v.front() == ' ') v.erase(0, 1);
      while (!v.empty() && v.back() == ' ') v.pop_back();
      return v;
    }
  }
  return {};
}

}  // namespace systemd_test

namespace systemd_test {

// Moves the calling thread into a network namespace of its own with its loopback interface up,
// and back on destruction. unshare(CLONE_NEWNET) moves only the calling thread; the fixture it
// spawns is born there and the test's clients, made on this thread, connect there. So port 80
// is free whatever holds it on the host.
class own_network {
 public:
  own_network() {
    home_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (home_ < 0 || ::unshare(CLONE_NEWNET) != 0) return;
    moved_ = true;
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    up_ = fd >= 0 && ::ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags |= IFF_UP, ::ioctl(fd, SIOCSIFFLAGS, &ifr) == 0);
    if (fd >= 0) ::close(fd);
  }
  ~own_network() {
    if (moved_) ::setns(home_, CLONE_NEWNET);
    if (home_ >= 0) ::close(home_);
  }
  bool ready() const { return moved_ && up_; }

 private:
  int home_ = -1;
  bool moved_ = false, up_ = false;
};

}  // namespace systemd_test

TEST_CASE("--user nobody on port 80: the workers run as nobody (ids and groups), the primary keeps its own") {
  if (::geteuid() != 0) {
    MESSAGE("not root: privilege drop not tested");
    return;
  }
  own_network net;  // before the cluster: it is left after the cluster is gone
  if (!net.ready() && errno == EPERM) {
    MESSAGE("root without CAP_SYS_ADMIN (a container?): no network namespace, privilege drop not tested");
    return;
  }
  REQUIRE_MESSAGE(net.ready(), "unshare(CLONE_NEWNET) or bringing lo up failed: " << std::strerror(errno));
  cluster_process c(fixture_args({"--user", "nobody", "--port", "80"}));
  REQUIRE(c.wait_listening() == 80);
  const auto pids = pids_by_slot(80);
  REQUIRE(pids.size() == 2);
  for (const auto& [slot, pid] : pids) {
    CHECK(status_line(pid, "Uid") == "65534 65534 65534 65534");
    CHECK(status_line(pid, "Gid") == "65534 65534 65534 65534");
    CHECK(status_line(pid, "Groups") == "65534");
  }
  CHECK(status_line(c.pid(), "Uid") == "0 0 0 0");
  CHECK(c.count("workers run as root") == 0);
  const auto r = http_get(80, "/version");
  CHECK(r.res.status == 200);
  c.signal(SIGTERM);
  CHECK(c.wait_exit() == 0);
}

TEST_CASE("--user: an unknown user is refused before anything starts; root without it is warned") {
  cluster_process bad(fixture_args({"--user", "no-such-user-hive"}));
  CHECK(bad.wait_exit() == 2);
  CHECK(bad.wait_for("--user no-such-user-hive: no such user", 2s));
  CHECK(bad.count("started worker") == 0);
  if (::geteuid() == 0) {
    cluster_process c(fixture_args());
    REQUIRE(c.wait_listening() != 0);
    CHECK(c.count("workers run as root; pass --user") == 1);
  }
}

// A connection's socket that outlives the connection: another reference to it (a dup, a fork, a
// process that took it with pidfd_getfd) keeps the socket, and with it any epoll registration,
// alive after hive closed its descriptor. An event on it must never reach the freed connection.
#include <doctest/doctest.h>

#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "abuse/abuse.hpp"
#include "support/client.hpp"

using namespace std::chrono_literals;

namespace {

int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }
int pidfd_getfd(int pidfd, int fd) { return static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd, fd, 0)); }

bool same_address(const sockaddr_in& a, const sockaddr_in& b) {
  return a.sin_port == b.sin_port && a.sin_addr.s_addr == b.sin_addr.s_addr;
}

// A copy of the worker's end of the connection whose client end is `client_fd`, or -1.
int take_server_end(pid_t pid, int client_fd, std::string& why) {
  sockaddr_in mine{};
  socklen_t len = sizeof mine;
  ::getsockname(client_fd, reinterpret_cast<sockaddr*>(&mine), &len);
  const int pidfd = pidfd_open(pid);
  if (pidfd < 0) {
    why = std::string("pidfd_open: ") + std::strerror(errno);
    return -1;
  }
  int found = -1;
  DIR* d = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  while (d != nullptr && found < 0) {
    const dirent* e = ::readdir(d);
    if (e == nullptr) break;
    if (e->d_name[0] == '.') continue;
    const int fd = pidfd_getfd(pidfd, std::atoi(e->d_name));
    if (fd < 0) {
      why = std::string("pidfd_getfd: ") + std::strerror(errno);
      continue;
    }
    sockaddr_in peer{};
    len = sizeof peer;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) == 0 && peer.sin_family == AF_INET &&
        same_address(peer, mine)) {
      found = fd;
    } else {
      ::close(fd);
    }
  }
  if (d != nullptr) ::closedir(d);
  ::close(pidfd);
  return found;
}

bool still_serves(std::uint16_t port) {
  hive::test::client c(port);
  if (!c.connected()) return false;
  c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  const auto r = c.read_responses(1, 3s);
  return r.responses.size() == 1 && r.responses[0].status == 200;
}

}  // namespace

TEST_CASE("abuse: an event on a socket that outlived its connection does not reach the freed connection") {
  abuse::raise_nofile();
  abuse::hello srv({});
  REQUIRE(srv.port() != 0);
  int rounds = 0;
  for (int i = 0; i < 20; ++i) {
    // A keep-alive connection that has waited for its next request: it is in the worker's set.
    const int client = abuse::open_client(srv.port());
    if (client < 0) break;  // the worker is gone: the checks below say so
    abuse::send_some(client, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    std::string answer;
    for (int t = 0; t < 300 && answer.find("\r\n\r\n") == std::string::npos; ++t) {
      std::this_thread::sleep_for(10ms);
      abuse::read_now(client, answer);
    }
    if (answer.rfind("HTTP/1.1 200 ", 0) != 0) {
      ::close(client);
      break;
    }
    std::string why;
    const int server_end = take_server_end(srv.pid(), client, why);
    if (server_end < 0) {
      ::close(client);
      MESSAGE("cannot take the worker's socket (" << why << "): nothing to check here");
      return;
    }
    // The client goes; the worker closes its descriptor and frees the connection. The socket
    // lives on in this process.
    ::close(client);
    std::this_thread::sleep_for(50ms);
    // Bytes to a peer that is gone: it answers with a reset, an error edge on the socket.
    (void)!::send(server_end, "x", 1, MSG_NOSIGNAL);
    std::this_thread::sleep_for(50ms);
    ::close(server_end);
    ++rounds;
  }
  MESSAGE(rounds << " sockets outlived their connections");
  CHECK(rounds == 20);
  CHECK(::kill(srv.pid(), 0) == 0);
  CHECK(still_serves(srv.port()));
  const auto& out = srv.output();
  CHECK(out.find("runtime error") == std::string::npos);
  CHECK(out.find("AddressSanitizer") == std::string::npos);
}

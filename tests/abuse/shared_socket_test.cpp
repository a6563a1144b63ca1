// A connection's socket that outlives the connection: another reference to it (a dup, or a fork
// without exec in the application) keeps the socket, and with it an epoll registration, alive
// after hive closed its descriptor. An event on it must never reach the freed connection.
#include <doctest/doctest.h>

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "abuse/abuse.hpp"
#include "support/client.hpp"

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

// A dup of this process's end of the connection whose client end is `client_fd`, or -1.
int dup_server_end(std::uint16_t port, int client_fd) {
  sockaddr_in mine{};
  socklen_t len = sizeof mine;
  ::getsockname(client_fd, reinterpret_cast<sockaddr*>(&mine), &len);
  int found = -1;
  DIR* d = ::opendir("/proc/self/fd");
  while (d != nullptr && found < 0) {
    const dirent* e = ::readdir(d);
    if (e == nullptr) break;
    const int fd = std::atoi(e->d_name);
    sockaddr_in local{}, peer{};
    socklen_t l1 = sizeof local, l2 = sizeof peer;
    if (e->d_name[0] == '.' || fd == client_fd ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &l1) != 0 || local.sin_family != AF_INET ||
        ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &l2) != 0) {
      continue;
    }
    if (ntohs(local.sin_port) == port && peer.sin_port == mine.sin_port && peer.sin_addr.s_addr == mine.sin_addr.s_addr) {
      found = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    }
  }
  if (d != nullptr) ::closedir(d);
  return found;
}

const hive::app& hello_app() {
  static const hive::app a = [] {
    hive::app app;
    app.get("/*", [](const hive::request&, hive::response& res) { res.text("Hello, world!\n"); });
    return app;
  }();
  return a;
}

}  // namespace

TEST_CASE("abuse: an event on a socket that outlived its connection does not reach the freed connection") {
  abuse::raise_nofile();
  hive::test::test_server srv(hello_app(), hive::options{});
  int rounds = 0;
  for (int i = 0; i < 20; ++i) {
    // A keep-alive connection that has waited for its next request: it is in the worker's set.
    const int client = abuse::open_client(srv.port());
    REQUIRE(client >= 0);
    abuse::send_some(client, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    std::string answer;
    for (int t = 0; t < 300 && answer.find("\r\n\r\n") == std::string::npos; ++t) {
      std::this_thread::sleep_for(10ms);
      abuse::read_now(client, answer);
    }
    REQUIRE(answer.rfind("HTTP/1.1 200 ", 0) == 0);
    const int server_end = dup_server_end(srv.port(), client);
    REQUIRE(server_end >= 0);
    // The client goes; the server closes its descriptor and frees the connection. The socket
    // lives on in the dup.
    ::close(client);
    const auto t0 = clock_type::now();
    while (srv.connections() != 0 && clock_type::now() - t0 < 5s) std::this_thread::sleep_for(5ms);
    REQUIRE(srv.connections() == 0);
    std::this_thread::sleep_for(20ms);  // past the batch that freed it
    // Bytes to a peer that is gone: it answers with a reset, an error edge on the socket. Before
    // the fix the server called the freed connection here (ASan: use after free; release: a crash).
    (void)!::send(server_end, "x", 1, MSG_NOSIGNAL);
    std::this_thread::sleep_for(20ms);
    ::close(server_end);
    ++rounds;
  }
  CHECK(rounds == 20);
  hive::test::client c(srv.port());
  c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  const auto r = c.read_responses(1, 3s);
  REQUIRE(r.responses.size() == 1);
  CHECK(r.responses[0].status == 200);
}

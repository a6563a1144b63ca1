// The listener out of descriptors, in this process and on this thread: RLIMIT_NOFILE is lowered
// so that not one more descriptor can be opened, and restored at the end. Every wait is on the
// kernel's state (poll on a socket), never on a duration; the server's loop runs only with
// io.poll(), which never blocks.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include <asio/io_context.hpp>

#include "net/server_core.hpp"
#include "support/client.hpp"

using namespace std::chrono_literals;

namespace {

const hive::app& hello_app() {
  static const hive::app a = [] {
    hive::app app;
    app.get("/*", [](const hive::request&, hive::response& res) { res.text("Hello"); });
    return app;
  }();
  return a;
}

std::uint16_t local_port(int fd, bool peer = false) {
  sockaddr_in sa{};
  socklen_t len = sizeof sa;
  const int rc = peer ? ::getpeername(fd, reinterpret_cast<sockaddr*>(&sa), &len)
                      : ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  return rc == 0 && sa.sin_family == AF_INET ? ntohs(sa.sin_port) : 0;
}

// This process's descriptor for the server's end of a connection (peer_port != 0) or for the
// listening socket on `port`.
int find_socket(std::uint16_t port, std::uint16_t peer_port) {
  for (int fd = 0; fd < 1024; ++fd) {
    if (local_port(fd) != port) continue;
    int listening = 0;
    socklen_t len = sizeof listening;
    if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0) continue;
    if (peer_port == 0 ? listening != 0 : (listening == 0 && local_port(fd, true) == peer_port)) return fd;
  }
  return -1;
}

// Waits until the kernel reports `events` on `fd` (bounded, for a broken build only).
bool kernel_ready(int fd, short events) {
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, 10'000) == 1 && (p.revents & events) != 0;
}

// Runs every handler that is ready now, until none is.
void run_ready(asio::io_context& io) {
  while (io.poll() != 0) {
  }
}

// Lowers the soft RLIMIT_NOFILE to the lowest free descriptor: nothing more can be opened until
// a descriptor is closed. Restored on destruction.
struct no_free_descriptors {
  rlimit saved{};
  no_free_descriptors() {
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved) == 0);
    const int lowest_free = ::dup(0);
    REQUIRE(lowest_free >= 0);
    ::close(lowest_free);
    rlimit lowered = saved;
    lowered.rlim_cur = static_cast<rlim_t>(lowest_free);
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &lowered) == 0);
    CHECK(::dup(0) == -1);  // the premise
  }
  ~no_free_descriptors() { ::setrlimit(RLIMIT_NOFILE, &saved); }
};

}  // namespace

TEST_CASE("listener: out of descriptors, accepts pause, and resume as soon as a connection closes") {
  asio::io_context io;
  hive::options opts;
  opts.host = "127.0.0.1";
  opts.port = 0;
  hive::detail::server_core core(io, hello_app(), opts);
  core.listen();
  const int listening = find_socket(core.port(), 0);
  REQUIRE(listening >= 0);

  // Both clients connect now, while descriptors are free; the server accepts a connection once
  // its request arrives (TCP_DEFER_ACCEPT).
  hive::test::client a(core.port());
  hive::test::client b(core.port());
  REQUIRE(a.connected());
  REQUIRE(b.connected());
  REQUIRE(a.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n"));
  REQUIRE(kernel_ready(listening, POLLIN));
  run_ready(io);
  REQUIRE(core.connection_count() == 1);
  auto r = a.read_responses(1);
  REQUIRE(r.responses.size() == 1);
  CHECK(r.responses[0].body == "Hello");
  const int server_a = find_socket(core.port(), local_port(a.fd()));
  REQUIRE(server_a >= 0);

  {
    no_free_descriptors limit;
    // b's request makes the listener readable; accepting it fails with EMFILE.
    REQUIRE(b.send("GET /b HTTP/1.1\r\nHost: x\r\n\r\n"));
    REQUIRE(kernel_ready(listening, POLLIN));
    run_ready(io);
    CHECK(core.connection_count() == 1);
    CHECK(kernel_ready(listening, POLLIN));  // b waits in the backlog, neither accepted nor reset
    char byte;
    CHECK(::recv(b.fd(), &byte, 1, MSG_DONTWAIT) == -1);
    CHECK(errno == EAGAIN);

    // a goes away: its descriptor is freed, and b is accepted and answered without waiting for
    // the listener's back-off timer (100 ms) or a new connection.
    ::shutdown(a.fd(), SHUT_RDWR);
    REQUIRE(kernel_ready(server_a, POLLRDHUP));
    run_ready(io);
    CHECK(core.connection_count() == 1);  // b's, in place of a's
    r = b.read_responses(1);  // already sent: the server reads and answers at accept
    REQUIRE(r.responses.size() == 1);
    CHECK(r.responses[0].body == "Hello");
  }
  CHECK(::close(::dup(0)) == 0);  // the limit is back
}

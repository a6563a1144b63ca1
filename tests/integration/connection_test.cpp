// The connection (src/net) over a socketpair: a server_core is handed one end with adopt(), and
// the test thread drives both the server's loop and the client. No listener, no timer, no other
// thread: every interleaving of reads and writes below happens in the order the test says.
#include <doctest/doctest.h>

#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <asio/io_context.hpp>

#include "app/app_dispatcher.hpp"
#include "cluster/worker_context.hpp"
#include "net/server_core.hpp"
#include "hive/event_stream.hpp"
#include "support/http_reader.hpp"
#include "support/shout_protocol.hpp"

using namespace std::chrono_literals;

namespace {

std::vector<hive::deferred> parked;
std::vector<hive::stream> live_streams;
std::vector<hive::event_stream> live_events;
int streams_closed = 0;

// 8 bytes per line, each line its own index: a lost, repeated or reordered byte shows.
std::string numbered(std::size_t bytes) {
  std::string s(bytes, '\0');
  char line[9];
  for (std::size_t i = 0; i * 8 < bytes; ++i) {
    std::snprintf(line, sizeof line, "%07zx\n", i);
    s.replace(i * 8, 8, line, 8);
  }
  return s;
}

const hive::app& test_app() {
  static const hive::app a = [] {
    hive::app app;
    app.get("/hello", [](const hive::request&, hive::response& res) { res.text("Hello"); });
    app.get("/n/:i", [](const hive::request& req, hive::response& res) {
      res.text("n=" + std::string(*req.param("i")));
    });
    app.get("/big", [](const hive::request&, hive::response& res) {
      res.body(numbered(4 * 1024 * 1024), "application/octet-stream");
    });
    app.get("/defer", [](const hive::request&, hive::response& res) { parked.push_back(res.defer()); });
    // 8 MiB produced only as fast as the client reads: on_drain pulls the next 64 KiB.
    app.get("/produce", [](const hive::request&, hive::response& res) {
      auto s = res.stream("application/octet-stream");
      auto body = std::make_shared<std::string>(numbered(8 * 1024 * 1024));
      auto sent = std::make_shared<std::size_t>(0);
      auto pump = [s, body, sent]() mutable {
        while (*sent < body->size()) {
          const std::size_t n = std::min<std::size_t>(64 * 1024, body->size() - *sent);
          const bool more = s.write(std::string_view(*body).substr(*sent, n));
          *sent += n;
          if (!more) return;  // on_drain calls again
        }
        s.end();
      };
      s.on_drain(pump);
      pump();
    });
    app.get("/quiet-events", [](const hive::request&, hive::response& res) {
      live_events.push_back(hive::event_stream(res, {.heartbeat = std::chrono::milliseconds(30)}));
    });
    app.get("/forever", [](const hive::request&, hive::response& res) {
      auto s = res.stream();
      s.on_close([] { ++streams_closed; });
      s.write("tick\n");
      live_streams.push_back(s);
    });
    return app;
  }();
  return a;
}

// One server_core on its own io_context, and the client ends of the socketpairs it was given.
struct pair_server {
  asio::io_context io;
  hive::options opts;
  hive::detail::server_core core{io, test_app(), opts};
  std::vector<int> clients;
  int last_server_end = -1;  // the server's end of the last connection (the server closes it)

  ~pair_server() {
    for (const int fd : clients) ::close(fd);
  }

  // A new connection. `before_adopt` runs on the client's end first: bytes it sends are there
  // when the server reads at once, as with TCP_DEFER_ACCEPT; `server_fd` may be tuned.
  template <class F>
  int connect(int type, F&& before_adopt) {
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
    clients.push_back(sv[1]);
    before_adopt(sv[1], sv[0]);
    last_server_end = sv[0];
    core.adopt(sv[0], hive::address{});
    return sv[1];
  }
  int connect(int type = SOCK_STREAM) {
    return connect(type, [](int, int) {});
  }

  // Alternates `done()` (the client's side) with the server's ready work until `done()` is
  // true. Both ends are in this thread and the kernel moves the bytes at once, so something is
  // always ready unless the code under test is stuck: the bound is for that failure, not a
  // timing the test relies on.
  template <class P>
  bool run_until(P&& done) {
    const auto give_up = std::chrono::steady_clock::now() + 10s;
    while (!done()) {
      if (std::chrono::steady_clock::now() > give_up) return false;
      if (io.poll() == 0) std::this_thread::yield();
    }
    return true;
  }
};

void send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    REQUIRE(n > 0);
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

// What the client can read now, up to `max` bytes; sets `eof` when the server closed.
std::string read_now(int fd, bool& eof, std::size_t max = 1 << 20) {
  std::string out;
  char buf[65536];
  while (out.size() < max) {
    const ssize_t n = ::recv(fd, buf, std::min(sizeof buf, max - out.size()), MSG_DONTWAIT);
    if (n > 0) {
      out.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n == 0) eof = true;
    else REQUIRE((errno == EAGAIN || errno == EWOULDBLOCK));
    break;
  }
  return out;
}

std::size_t readable_bytes(int fd) {
  int n = 0;
  REQUIRE(::ioctl(fd, FIONREAD, &n) == 0);
  return static_cast<std::size_t>(n);
}

constexpr std::string_view hello = "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n";

}  // namespace

TEST_CASE("connection: a request already there is answered at adopt; the next one on readiness") {
  pair_server s;
  const int c = s.connect(SOCK_STREAM, [](int client, int) { send_all(client, hello); });
  bool eof = false;
  std::string got = read_now(c, eof);  // no loop turn yet: answered inside adopt()
  auto r = hive::test::read_responses(got);
  REQUIRE(r.responses.size() == 1);
  CHECK(r.responses[0].status == 200);
  CHECK(r.responses[0].body == "Hello");
  CHECK(r.rest.empty());
  CHECK(s.core.connection_count() == 1);

  send_all(c, "GET /n/2 HTTP/1.1\r\nHost: a\r\n\r\n");  // now the poller must say it is readable
  got.clear();
  REQUIRE(s.run_until([&] {
    got += read_now(c, eof);
    return hive::test::read_responses(got).responses.size() == 1 || eof;
  }));
  r = hive::test::read_responses(got);
  REQUIRE(r.responses.size() == 1);
  CHECK(r.responses[0].body == "n=2");
  CHECK(!eof);
  CHECK(s.core.connection_count() == 1);
}

TEST_CASE("connection: a response larger than the socket holds arrives whole and in order") {
  pair_server s;
  const int c = s.connect(SOCK_STREAM, [](int client, int server) {
    const int small = 4096;  // the kernel doubles it and has a floor: a few KiB either way
    REQUIRE(::setsockopt(server, SOL_SOCKET, SO_SNDBUF, &small, sizeof small) == 0);
    REQUIRE(::setsockopt(client, SOL_SOCKET, SO_RCVBUF, &small, sizeof small) == 0);
    send_all(client, "GET /big HTTP/1.1\r\nHost: a\r\n\r\n");
  });
  const std::string expected = numbered(4 * 1024 * 1024);
  // The server wrote what fit and is waiting for the socket: it has seen EAGAIN (or a short
  // write), with most of the response still queued.
  s.io.poll();
  CHECK(readable_bytes(c) < expected.size() / 100);
  CHECK(s.core.connection_count() == 1);

  // Read slowly: a few KiB at a time, one loop turn between reads.
  std::string got;
  bool eof = false;
  REQUIRE(s.run_until([&] {
    got += read_now(c, eof, 3000);
    return got.size() >= expected.size() + 100 && hive::test::read_responses(got).responses.size() == 1;
  }));
  const auto r = hive::test::read_responses(got);
  REQUIRE(r.responses.size() == 1);
  CHECK(r.responses[0].header("Content-Length") == std::to_string(expected.size()));
  CHECK(r.rest.empty());
  const std::string& body = r.responses[0].body;
  REQUIRE(body.size() == expected.size());
  const auto first_bad = std::mismatch(body.begin(), body.end(), expected.begin()).first - body.begin();
  CHECK_MESSAGE(body == expected, "first wrong byte at " << first_bad);

  // The connection is still good after the blocked writes: the next request is answered.
  send_all(c, hello);
  got.clear();
  REQUIRE(s.run_until([&] {
    got += read_now(c, eof);
    return hive::test::read_responses(got).responses.size() == 1 || eof;
  }));
  CHECK(hive::test::read_responses(got).responses.at(0).body == "Hello");
}

TEST_CASE("connection: pipelined requests are answered in order") {
  pair_server s;
  std::string batch;
  for (int i = 0; i < 20; ++i) batch += "GET /n/" + std::to_string(i) + " HTTP/1.1\r\nHost: a\r\n\r\n";
  const int c = s.connect();
  send_all(c, batch);
  std::string got;
  bool eof = false;
  REQUIRE(s.run_until([&] {
    got += read_now(c, eof);
    return hive::test::read_responses(got).responses.size() == 20 || eof;
  }));
  const auto r = hive::test::read_responses(got);
  REQUIRE(r.responses.size() == 20);
  for (int i = 0; i < 20; ++i) CHECK(r.responses[i].body == "n=" + std::to_string(i));
  CHECK(r.rest.empty());
}

TEST_CASE("connection: a pipeline sent a byte at a time, each byte its own read, gets the same bytes back") {
  pair_server s;
  const std::string pipeline = "GET /n/1 HTTP/1.1\r\nHost: a\r\n\r\n"
                               "POST /nowhere HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi"
                               "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n";
  const int whole = s.connect();
  send_all(whole, pipeline);
  std::string expected;
  bool eof = false;
  REQUIRE(s.run_until([&] {
    expected += read_now(whole, eof);
    return hive::test::read_responses(expected).responses.size() == 3 || eof;
  }));
  REQUIRE(hive::test::read_responses(expected).responses.size() == 3);

  const int c = s.connect();
  const int server_end = s.last_server_end;
  std::string got;
  for (const char& byte : pipeline) {
    send_all(c, std::string_view(&byte, 1));
    REQUIRE(s.run_until([&] { return readable_bytes(server_end) == 0; }));  // read before the next
    got += read_now(c, eof);
  }
  CHECK(got == expected);
  CHECK(!eof);
}

TEST_CASE("connection: a pipelined batch read at once is answered with one write") {
  // SOCK_SEQPACKET keeps message boundaries: the client's one send is the server's one read, and
  // each server write arrives as one record, so the records counted are the writes made.
  pair_server s;
  std::string batch;
  for (int i = 0; i < 8; ++i) batch += "GET /n/" + std::to_string(i) + " HTTP/1.1\r\nHost: a\r\n\r\n";
  const int c = s.connect(SOCK_SEQPACKET, [&](int client, int) { send_all(client, batch); });
  char buf[65536];
  const ssize_t n = ::recv(c, buf, sizeof buf, MSG_DONTWAIT);
  REQUIRE(n > 0);
  const auto r = hive::test::read_responses(std::string_view(buf, static_cast<std::size_t>(n)));
  REQUIRE(r.responses.size() == 8);  // all eight in the first record
  for (int i = 0; i < 8; ++i) CHECK(r.responses[i].body == "n=" + std::to_string(i));
  CHECK(r.rest.empty());
  CHECK(readable_bytes(c) == 0);  // and no second record
}

TEST_CASE("connection: EOF while a deferred response is pending releases the connection") {
  parked.clear();
  pair_server s;
  const int c = s.connect(SOCK_STREAM, [](int client, int) {
    send_all(client, "GET /defer HTTP/1.1\r\nHost: a\r\n\r\n");
  });
  REQUIRE(parked.size() == 1);
  CHECK(parked[0].pending());
  s.io.poll();
  CHECK(s.core.connection_count() == 1);  // waiting on the handler, as it should

  // The client closes its sending side only: the server learns it by reading (EOF), not from a
  // hang-up event, so this holds only while the connection reads during a deferred response.
  REQUIRE(::shutdown(c, SHUT_WR) == 0);
  REQUIRE(s.run_until([&] { return s.core.connection_count() == 0; }));
  CHECK(!parked[0].pending());
  CHECK(!parked[0].finish([](hive::response& r) { r.text("nobody reads this"); }));
  bool eof = false;
  CHECK(read_now(c, eof).empty());
  CHECK(eof);
  parked.clear();  // dropping the handle afterwards touches nothing
  s.io.poll();
}

TEST_CASE("connection: a client gone altogether while a deferred response is pending") {
  parked.clear();
  pair_server s;
  int c = s.connect(SOCK_STREAM, [](int client, int) {
    send_all(client, "GET /defer HTTP/1.1\r\nHost: a\r\n\r\n");
  });
  REQUIRE(parked.size() == 1);
  ::close(c);
  s.clients.clear();
  REQUIRE(s.run_until([&] { return s.core.connection_count() == 0; }));
  CHECK(!parked[0].pending());
  parked.clear();
}

TEST_CASE("connection: EOF after complete requests: the answers, then a close") {
  pair_server s;
  const int c = s.connect(SOCK_STREAM, [](int client, int) {
    // A complete request, the start of another, then the client's half-close.
    send_all(client, std::string(hello) + "GET /n/cut HTTP/1.1\r\nHo");
    REQUIRE(::shutdown(client, SHUT_WR) == 0);
  });
  std::string got;
  bool eof = false;
  REQUIRE(s.run_until([&] {
    got += read_now(c, eof);
    return eof;
  }));
  const auto r = hive::test::read_responses(got);
  REQUIRE(r.responses.size() == 1);  // the cut request gets nothing
  CHECK(r.responses[0].body == "Hello");
  CHECK(r.rest.empty());
  CHECK(s.core.connection_count() == 0);

  // The same with nothing in flight: an idle keep-alive connection whose client half-closes.
  const int idle = s.connect();
  send_all(idle, hello);
  got.clear();
  eof = false;
  REQUIRE(s.run_until([&] {
    got += read_now(idle, eof);
    return hive::test::read_responses(got).responses.size() == 1;
  }));
  CHECK(s.core.connection_count() == 1);
  REQUIRE(::shutdown(idle, SHUT_WR) == 0);
  REQUIRE(s.run_until([&] { return s.core.connection_count() == 0; }));
  CHECK(read_now(idle, eof).empty());
  CHECK(eof);
}

TEST_CASE("connection: a streamed body produced as the client reads arrives whole and in order") {
  pair_server s;
  const int c = s.connect();
  send_all(c, "GET /produce HTTP/1.1\r\nHost: a\r\n\r\nGET /hello HTTP/1.1\r\nHost: a\r\n\r\n");
  std::string got;
  bool eof = false;
  REQUIRE(s.run_until([&] {
    // A slow client: at most 256 KiB per turn, so the producer is held back again and again.
    got += read_now(c, eof, 256 * 1024);
    return hive::test::read_responses(got, {}, false).responses.size() == 2;
  }));
  const auto r = hive::test::read_responses(got);
  REQUIRE(r.responses.size() == 2);
  CHECK(r.responses[0].header("Transfer-Encoding") == "chunked");
  CHECK(r.responses[0].body == numbered(8 * 1024 * 1024));
  CHECK(r.responses[1].body == "Hello");
  CHECK(!eof);
}

TEST_CASE("connection: a client that leaves during a stream closes it; on_close runs once") {
  live_streams.clear();
  streams_closed = 0;
  pair_server s;
  const int c = s.connect(SOCK_STREAM, [](int client, int) {
    send_all(client, "GET /forever HTTP/1.1\r\nHost: a\r\n\r\n");
  });
  REQUIRE(live_streams.size() == 1);
  CHECK(live_streams[0].write("tock\n"));
  s.io.poll();
  bool eof = false;
  CHECK(read_now(c, eof).ends_with("5\r\ntick\n\r\n5\r\ntock\n\r\n"));
  ::close(c);
  s.clients.clear();
  REQUIRE(s.run_until([&] { return s.core.connection_count() == 0; }));
  CHECK(streams_closed == 1);
  CHECK(!live_streams[0].open());
  CHECK(!live_streams[0].write("nobody"));
  live_streams.clear();
  CHECK(streams_closed == 1);
}

namespace {
// The app's own side, plus an upgrade to the shouting protocol on /shout.
class shouting_side final : public hive::detail::dispatcher {
 public:
  explicit shouting_side(const hive::app& a) : inner_(a, nullptr) {}
  bool route(std::string_view m, std::string_view p, hive::detail::route_state& r) const override {
    return inner_.route(m, p, r);
  }
  bool body_data(hive::detail::route_state& r, std::string_view b) override { return inner_.body_data(r, b); }
  std::unique_ptr<hive::detail::protocol> upgrade(const hive::request& req, hive::response& res,
                                                  const hive::detail::route_state& r) override {
    if (req.path() != "/shout") return inner_.upgrade(req, res, r);
    res.header("Upgrade", "shout");
    return std::make_unique<hive::test::shout>();
  }
  void handle(const hive::request& req, hive::response& res, const hive::detail::route_state& r) const override {
    inner_.handle(req, res, r);
  }
  void hive_answer(int status, const hive::detail::route_state* r, hive::response& res) const override {
    inner_.hive_answer(status, r, res);
  }
  void finished(const hive::detail::finished_record&) override {}

 private:
  hive::detail::app_dispatcher inner_;
};
}  // namespace

TEST_CASE("connection: after a 101 the successor protocol has the socket, and the bytes sent with the request") {
  pair_server s;
  shouting_side side(test_app());
  s.core.set_app_side(side);
  const int c = s.connect(SOCK_STREAM, [](int client, int) {
    send_all(client, "GET /shout HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: shout\r\n\r\nearly ");
  });
  std::string got;
  bool eof = false;
  REQUIRE(s.run_until([&] {
    got += read_now(c, eof);
    return got.ends_with("EARLY ");
  }));
  CHECK(got.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
  CHECK(got.find("\r\nConnection: upgrade\r\n") != std::string::npos);
  send_all(c, "and later");
  REQUIRE(s.run_until([&] {
    got += read_now(c, eof);
    return got.ends_with("AND LATER");
  }));
  ::shutdown(c, SHUT_WR);
  REQUIRE(s.run_until([&] {
    read_now(c, eof);
    return eof && s.core.connection_count() == 0;
  }));
}

TEST_CASE("connection: a quiet event stream sends heartbeat comments on the loop's timer, and stops when the client leaves") {
  live_events.clear();
  pair_server s;
  // As hive::server does: hive::worker::io() finds this server's loop.
  hive::detail::add_local_server(&s.core);
  struct unregister {
    hive::detail::server_core* core;
    ~unregister() { hive::detail::remove_local_server(core); }
  } registered{&s.core};
  const int c = s.connect(SOCK_STREAM, [](int client, int) {
    send_all(client, "GET /quiet-events HTTP/1.1\r\nHost: a\r\n\r\n");
  });
  REQUIRE(live_events.size() == 1);
  std::string got;
  bool eof = false;
  const auto start = std::chrono::steady_clock::now();
  REQUIRE(s.run_until([&] {
    got += read_now(c, eof);
    std::size_t beats = 0;
    for (auto at = got.find("3\r\n:\n\n\r\n"); at != std::string::npos; at = got.find("3\r\n:\n\n\r\n", at + 1)) ++beats;
    return beats >= 2;
  }));
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(55));  // two periods
  CHECK(live_events[0].open());
  ::close(c);
  s.clients.clear();
  REQUIRE(s.run_until([&] { return s.core.connection_count() == 0; }));
  CHECK(!live_events[0].open());
  live_events.clear();
  s.io.poll();  // the cancelled heartbeat's completion finds nothing to do
}

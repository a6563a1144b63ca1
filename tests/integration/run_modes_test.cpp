// The same API whichever way the app runs: an embedded hive::server on an io_context the test
// owns, and hive::serve (examples in a child process). The cluster's side is in tests/cluster.
#include <doctest/doctest.h>

#include <future>
#include <optional>
#include <thread>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include "support/client.hpp"

using namespace std::chrono_literals;
using hive::test::client;

// Named, not anonymous: the tests are a unity build, and examples_test has its own `ask`.
namespace run_modes {

hive::test::parsed_response get(std::uint16_t port, const std::string& path) {
  client c(port);
  REQUIRE(c.connected());
  REQUIRE(c.send("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n"));
  const auto r = c.read_responses(1);
  REQUIRE(r.responses.size() == 1);
  return r.responses[0];
}

// Runs `io` on a thread of its own until destroyed.
class loop_thread {
 public:
  explicit loop_thread(asio::io_context& io) : io_(io), thread_([this] {
    auto guard = asio::make_work_guard(io_);
    io_.run();
  }) {}
  ~loop_thread() {
    io_.stop();
    thread_.join();
  }
  // Runs `f` on the loop and waits for it.
  void run(std::function<void()> f) {
    std::promise<void> done;
    asio::post(io_, [&] {
      f();
      done.set_value();
    });
    done.get_future().wait();
  }

 private:
  asio::io_context& io_;
  std::thread thread_;
};

hive::options loopback() {
  hive::options o;
  o.host = "127.0.0.1";
  o.port = 0;
  return o;
}

}  // namespace run_modes

using run_modes::get;
using run_modes::loop_thread;
using run_modes::loopback;

TEST_CASE("embedded: hive::server copies its options, so a temporary will do") {
  hive::app app;
  app.get("/", [](const hive::request&, hive::response& res) { res.text("hi\n"); });
  asio::io_context io(1);
  {
    hive::server srv(io, app, loopback());  // the options object dies at the semicolon
    srv.listen();
    loop_thread t(io);
    CHECK(get(srv.port(), "/").body == "hi\n");
    t.run([&] { srv.close(); });
  }
  // The same, deterministically: the caller's object is replaced by one that cannot listen. A
  // server that kept a reference would now try to bind "not-an-address".
  std::optional<hive::options> opts(loopback());
  hive::server srv(io, app, *opts);
  opts.emplace();
  opts->host = "not-an-address";
  opts->port = 1;
  REQUIRE_NOTHROW(srv.listen());
  io.restart();
  loop_thread t(io);
  CHECK(get(srv.port(), "/").body == "hi\n");
  t.run([&] { srv.close(); });
}

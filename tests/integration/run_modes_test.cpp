// The same API whichever way the app runs: an embedded hive::server on an io_context the test
// owns, and hive::serve (examples in a child process). The cluster's side is in tests/cluster.
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <thread>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include <asio/steady_timer.hpp>

#include "support/client.hpp"
#include "support/process.hpp"

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

TEST_CASE("--workers 0: hive::worker::io() in start hooks and handlers; stats() counts this process") {
  // The cluster fixture as one process: hive::cluster::run() serves through hive::serve.
  const char* fixture = std::getenv("HIVE_CLUSTER_FIXTURE");
  REQUIRE(fixture != nullptr);
  hive::test::process p({fixture, "--port", "0", "--workers", "0", "--host", "127.0.0.1"});
  const auto port = hive::test::port_in(p.wait_for_line("listening on", 5s));
  REQUIRE(port != 0);
  // A deferred answer from a timer on hive::worker::io(), in a handler.
  auto r = get(port, "/slow?ms=50");
  CHECK(r.status == 200);
  CHECK(r.body == "slow done\n");
  // A timer the start hook set on hive::worker::io() runs on the server's loop.
  std::this_thread::sleep_for(300ms);
  CHECK(nlohmann::json::parse(get(port, "/ticks").body)["ticks"].get<long>() >= 3);
  for (int i = 0; i < 5; ++i) CHECK(get(port, "/pid").status == 200);
  const auto s = nlohmann::json::parse(get(port, "/stats").body);
  INFO(s.dump());
  CHECK(s["requests"].get<long>() == 7);  // counted as answered: not /stats itself yet
  CHECK(s["responses"]["2xx"].get<long>() == 7);
  CHECK(s["connections_total"].get<long>() == 8);
  CHECK(s["connections_open"].get<long>() >= 1);
  CHECK(s["bytes_in"].get<long>() > 0);
  CHECK(s["bytes_out"].get<long>() > 0);
  CHECK(s["workers"].get<int>() == 1);
  const int status = p.stop(SIGTERM, 5s);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("embedded: hive::worker::io() is the server's io_context; stats() sums the servers on it") {
  asio::io_context io(1);
  hive::app app;
  app.get("/io", [&io](const hive::request&, hive::response& res) {
    res.text(&hive::worker::io() == &io ? "same" : "other");
  });
  app.get("/later", [](const hive::request&, hive::response& res) {
    auto timer = std::make_shared<asio::steady_timer>(hive::worker::io(), 20ms);
    timer->async_wait([timer, d = res.defer()](const asio::error_code&) mutable {
      d.finish([](hive::response& r) { r.text("later\n"); });
    });
  });
  app.get("/stats", [](const hive::request&, hive::response& res) { res.json(hive::worker::stats()); });
  hive::server a(io, app, loopback());
  hive::server b(io, app, loopback());
  a.listen();
  b.listen();
  // Off the loop (here, before it runs) too: the one io_context both servers share.
  CHECK(&hive::worker::io() == &io);
  loop_thread t(io);
  CHECK(get(a.port(), "/io").body == "same");
  CHECK(get(b.port(), "/later").body == "later\n");
  for (int i = 0; i < 3; ++i) CHECK(get(a.port(), "/io").body == "same");
  // Two servers on one io_context are one worker: the counts of both.
  const auto s = nlohmann::json::parse(get(b.port(), "/stats").body);
  INFO(s.dump());
  CHECK(s["requests"].get<long>() == 5);  // counted as answered: not /stats itself yet
  CHECK(s["responses"]["2xx"].get<long>() == 5);
  CHECK(s["connections_total"].get<long>() == 6);
  CHECK(s["workers"].get<int>() == 1);
  t.run([&] {
    a.close();
    b.close();
  });
}

TEST_CASE("embedded: servers on two io_contexts, each on its own thread: io() is the calling loop's") {
  hive::app app;
  app.get("/io", [](const hive::request&, hive::response& res) {
    res.text(std::to_string(reinterpret_cast<std::uintptr_t>(&hive::worker::io())));
  });
  asio::io_context io1(1), io2(1);
  hive::server a(io1, app, loopback());
  hive::server b(io2, app, loopback());
  a.listen();
  b.listen();
  // Neither loop runs on this thread: which one is meant cannot be known.
  CHECK_THROWS_AS(hive::worker::io(), std::logic_error);
  loop_thread t1(io1), t2(io2);
  CHECK(get(a.port(), "/io").body == std::to_string(reinterpret_cast<std::uintptr_t>(&io1)));
  CHECK(get(b.port(), "/io").body == std::to_string(reinterpret_cast<std::uintptr_t>(&io2)));
  t1.run([&] { a.close(); });
  t2.run([&] { b.close(); });
}

TEST_CASE("--workers 0: cluster.on_worker_stop runs when the process stops") {
  const char* fixture = std::getenv("HIVE_CLUSTER_FIXTURE");
  REQUIRE(fixture != nullptr);
  char tmpl[] = "/tmp/hive-stop-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  const std::string dir = tmpl;
  hive::test::process p({"/usr/bin/env", "FIXTURE_STOP_DIR=" + dir, fixture, "--port", "0",
                         "--workers", "0", "--host", "127.0.0.1"});
  const auto port = hive::test::port_in(p.wait_for_line("listening on", 5s));
  REQUIRE(port != 0);
  const int pid = nlohmann::json::parse(get(port, "/pid").body)["pid"].get<int>();
  const int status = p.stop(SIGTERM, 5s);
  CHECK(WIFEXITED(status));
  std::ifstream f(dir + "/" + std::to_string(pid));
  const std::string written((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  CHECK(written == "started slot=0\nstopped slot=0\n");
  std::filesystem::remove_all(dir);
}

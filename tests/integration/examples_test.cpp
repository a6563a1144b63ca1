// The examples are documentation that runs: start each built binary and use it as the README
// says.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>

#include <cstdio>
#include <map>
#include <set>

#include "support/client.hpp"
#include "support/content_decode.hpp"
#include "support/process.hpp"

using namespace std::chrono_literals;
using hive::test::client;
using hive::test::process;

namespace {

hive::test::parsed_response ask(unsigned short port, const std::string& raw) {
  client c(port);
  REQUIRE(c.send(raw));
  const auto r = c.read_responses(1);
  REQUIRE(r.responses.size() == 1);
  return r.responses[0];
}

// "hello from slot 1 of 2\n" → {"hello", 1}; the slot is -1 if the body is not that shape.
std::pair<std::string, int> greeting_and_slot(const std::string& body) {
  char word[64] = {};
  int slot = -1, count = -1;
  if (std::sscanf(body.c_str(), "%63s from slot %d of %d", word, &slot, &count) != 3 || count != 2) {
    return {body, -1};
  }
  return {word, slot};
}

}  // namespace

TEST_CASE("examples/hello in one process: hello on any path, /echo, SIGHUP ignored, clean stop on SIGTERM") {
  process p({hive::test::example_path("hello"), "--port", "0", "--workers", "0", "--host", "127.0.0.1"});
  const auto line = p.wait_for_line("listening on", 5s);
  REQUIRE(!line.empty());
  CHECK(line.find("hive ") == 0);
  const auto port = hive::test::port_in(line);
  REQUIRE(port != 0);
  auto r = ask(port, "GET /anything HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(r.status == 200);
  CHECK(r.body == "Hello, world!\n");
  CHECK(r.header("Content-Type") == "text/plain; charset=utf-8");
  r = ask(port, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/x-echo\r\nContent-Length: 4\r\n\r\nabcd");
  CHECK(r.body == "abcd");
  CHECK(r.header("Content-Type") == "text/x-echo");
  // A reload signal meant for a cluster neither kills nor stops a single process.
  REQUIRE(::kill(p.pid(), SIGHUP) == 0);
  CHECK(!p.wait_for_line("SIGHUP ignored", 5s).empty());
  CHECK(ask(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").status == 200);
  const int status = p.stop(SIGTERM, 5s);
  REQUIRE(status != -1);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("examples/hello: bad options are refused with status 2; --help lists them") {
  {
    process p({hive::test::example_path("hello"), "--port", "nope"});
    const int status = p.stop(0, 5s);  // signal 0: just wait for it to exit
    REQUIRE(status != -1);
    CHECK(WEXITSTATUS(status) == 2);
    CHECK(p.output().find("--port") != std::string::npos);
  }
  {
    // Used to be accepted and wrap to a negative timeout.
    process p({hive::test::example_path("hello"), "--idle-timeout", "9300000000000000s"});
    const int status = p.stop(0, 5s);
    REQUIRE(status != -1);
    CHECK(WEXITSTATUS(status) == 2);
    CHECK(p.output().find("--idle-timeout") != std::string::npos);
    CHECK(p.output().find("365 days") != std::string::npos);
  }
  {
    process p({hive::test::example_path("hello"), "--trusted-proxies", "10.0.0.0/8,10.0.0.0/33"});
    const int status = p.stop(0, 5s);
    REQUIRE(status != -1);
    CHECK(WEXITSTATUS(status) == 2);
    CHECK(p.output().find("'10.0.0.0/33' is not a CIDR") != std::string::npos);
  }
  {
    process p({hive::test::example_path("hello"), "--help"});
    const int status = p.stop(0, 5s);
    REQUIRE(status != -1);
    CHECK(WEXITSTATUS(status) == 0);
    CHECK(p.output().find("--max-body") != std::string::npos);
  }
}

TEST_CASE("examples/embed: hive shares the program's io_context") {
  process p({hive::test::example_path("embed"), "--port", "0", "--host", "127.0.0.1"});
  const auto line = p.wait_for_line("listening on", 5s);
  const auto port = hive::test::port_in(line);
  REQUIRE(port != 0);
  std::this_thread::sleep_for(350ms);
  const auto ticks = nlohmann::json::parse(ask(port, "GET /ticks HTTP/1.1\r\nHost: x\r\n\r\n").body);
  CHECK(ticks["ticks"].get<long>() >= 2);  // the program's own timer ran on the same loop
  const auto start = std::chrono::steady_clock::now();
  CHECK(ask(port, "GET /wait/200 HTTP/1.1\r\nHost: x\r\n\r\n").body == "waited 200 ms\n");
  CHECK(std::chrono::steady_clock::now() - start >= 190ms);
  const auto counting = std::chrono::steady_clock::now();
  const auto counted = ask(port, "GET /count/5 HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(counted.header("Transfer-Encoding") == "chunked");
  CHECK(counted.body == "1\n2\n3\n4\n5\n");
  CHECK(std::chrono::steady_clock::now() - counting >= 80ms);  // four ticks between five lines
  const int status = p.stop(SIGTERM, 5s);
  CHECK(WIFEXITED(status));
}

TEST_CASE("examples/events: server-sent events with ids, resumed from Last-Event-ID, ended by count") {
  process p({hive::test::example_path("events"), "--port", "0", "--workers", "0", "--host", "127.0.0.1"});
  const auto port = hive::test::port_in(p.wait_for_line("listening on", 5s));
  REQUIRE(port != 0);
  auto r = ask(port, "GET /events?count=3&every=10 HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(r.header("Content-Type") == "text/event-stream");
  CHECK(r.body ==
        "retry: 1000\n\n"
        "event: tick\nid: 1\ndata: worker 0\ndata: event 1\n\n"
        "event: tick\nid: 2\ndata: worker 0\ndata: event 2\n\n"
        "event: tick\nid: 3\ndata: worker 0\ndata: event 3\n\n");
  r = ask(port, "GET /events?count=2&every=10 HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 41\r\n\r\n");
  CHECK(r.body.find("id: 42\n") != std::string::npos);
  CHECK(r.body.find("id: 43\n") != std::string::npos);
  CHECK(r.body.find("id: 44\n") == std::string::npos);
  CHECK(ask(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").body.find("EventSource") != std::string::npos);
  // An endless stream is ended cleanly by a graceful stop: the last chunk, then the close, long
  // before the shutdown timeout (30 s).
  client endless(port);
  REQUIRE(endless.send("GET /events?every=20 HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::this_thread::sleep_for(100ms);
  const auto stopping = std::chrono::steady_clock::now();
  const int status = p.stop(SIGTERM, 5s);  // one SIGTERM: a second may end the process at once
  CHECK(std::chrono::steady_clock::now() - stopping < 3s);
  const auto got = endless.read_responses(1, 5s);
  REQUIRE(got.responses.size() == 1);
  CHECK(got.responses[0].body.find("id: 2\n") != std::string::npos);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("examples/json-api: create, read, update, delete") {
  process p({hive::test::example_path("json-api"), "--port", "0", "--workers", "0", "--host", "127.0.0.1"});
  const auto port = hive::test::port_in(p.wait_for_line("listening on", 5s));
  REQUIRE(port != 0);
  auto body = std::string(R"({"text":"first"})");
  auto r = ask(port, "POST /notes HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  CHECK(r.status == 201);
  CHECK(r.header("Location") == "/notes/1");
  r = ask(port, "POST /notes HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n{x}");
  CHECK(r.status == 400);
  r = ask(port, "GET /notes/1 HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(nlohmann::json::parse(r.body)["text"] == "first");
  body = R"({"text":"second"})";
  r = ask(port, "PUT /notes/1 HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  CHECK(nlohmann::json::parse(r.body)["text"] == "second");
  CHECK(ask(port, "GET /notes?limit=5 HTTP/1.1\r\nHost: x\r\n\r\n").body == R"([{"id":1,"text":"second"}])");
  // A list past 1 KiB goes out compressed to a client that asks.
  for (int i = 0; i < 40; ++i) {
    body = R"({"text":"a note long enough to make the list grow"})";
    ask(port, "POST /notes HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  }
  r = ask(port, "GET /notes HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n");
  CHECK(r.header("Content-Encoding") == "gzip");
  CHECK(r.header("Vary") == "Accept-Encoding");
  const auto list = hive::test::decode("gzip", r.body);
  REQUIRE(list.has_value());
  CHECK(nlohmann::json::parse(*list).size() == 41);
  CHECK_FALSE(ask(port, "GET /notes HTTP/1.1\r\nHost: x\r\n\r\n").header("Content-Encoding").has_value());
  CHECK(ask(port, "DELETE /notes/1 HTTP/1.1\r\nHost: x\r\n\r\n").status == 204);
  CHECK(ask(port, "GET /notes/1 HTTP/1.1\r\nHost: x\r\n\r\n").status == 404);
  CHECK(ask(port, "PATCH /notes/1 HTTP/1.1\r\nHost: x\r\n\r\n").status == 405);
}

TEST_CASE("examples/cluster-messages: messages go from a worker to the primary and back to every worker") {
  process p({hive::test::example_path("cluster-messages"), "--port", "0", "--workers", "2", "--host", "127.0.0.1"});
  const auto port = hive::test::port_in(p.wait_for_line("listening on", 10s));  // every slot listens
  REQUIRE(port != 0);
  int asked = 0;
  std::map<int, int> served;  // slot → GET / it answered, as the workers count them
  const auto hello_from = [&] {
    const auto r = ask(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    ++asked;
    const auto said = greeting_and_slot(r.body);
    REQUIRE_MESSAGE(said.second >= 0, r.body);
    ++served[said.second];
    return said;
  };
  // SO_REUSEPORT spreads new connections over the slots by a hash of the client's port: ask on
  // new connections until both workers have answered.
  for (int i = 0; i < 200 && served.size() < 2; ++i) CHECK(hello_from().first == "hello");
  REQUIRE(served.size() == 2);

  // One worker takes the post; the primary broadcasts it; both workers then say it.
  auto r = ask(port, "POST /greeting HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n\r\nBonjour");
  ++asked;
  CHECK(r.status == 202);
  CHECK(r.body == "broadcasting\n");
  std::set<int> switched;  // slots that said Bonjour
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (switched.size() < 2 && std::chrono::steady_clock::now() < deadline) {
    const auto said = hello_from();  // not a structured binding: clang 14 cannot capture one
    const int slot = said.second;
    if (said.first == "Bonjour") {
      switched.insert(slot);
    } else {
      CHECK_MESSAGE(!switched.contains(slot), "slot " << slot << " went back to " << said.first);
      std::this_thread::sleep_for(5ms);  // the broadcast is on its way: a poll interval
    }
  }
  CHECK(switched.size() == 2);

  // Each worker reports its count to the primary every second; the primary sends every slot's
  // count to every worker. Once the reports catch up they are exactly what each slot answered.
  const nlohmann::json expected = {{"0", served[0]}, {"1", served[1]}};
  nlohmann::json reports;
  while (reports != expected && std::chrono::steady_clock::now() < deadline + 5s) {
    if (!reports.is_null()) std::this_thread::sleep_for(50ms);  // a poll interval, not a timing
    reports = nlohmann::json::parse(ask(port, "GET /reports HTTP/1.1\r\nHost: x\r\n\r\n").body);
    ++asked;
  }
  CHECK(reports == expected);

  // The counters of both workers, summed from shared memory by whichever answers.
  const auto stats = nlohmann::json::parse(ask(port, "GET /stats HTTP/1.1\r\nHost: x\r\n\r\n").body);
  CHECK(stats["workers"] == 2);
  // Both counted as each response is queued: all but this one, still being answered.
  CHECK(stats["requests"] == asked);
  CHECK(stats["responses"]["2xx"] == asked);

  const int status = p.stop(SIGTERM, 10s);
  REQUIRE(status != -1);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("examples/cluster-messages in one process: no primary to message") {
  process p({hive::test::example_path("cluster-messages"), "--port", "0", "--workers", "0", "--host", "127.0.0.1"});
  const auto port = hive::test::port_in(p.wait_for_line("listening on", 5s));
  REQUIRE(port != 0);
  CHECK(ask(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").body == "hello from slot 0 of 1\n");
  const auto r = ask(port, "POST /greeting HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nHi");
  CHECK(r.status == 503);
  CHECK(r.body == "not in a cluster\n");
  const int status = p.stop(SIGTERM, 5s);
  CHECK(WIFEXITED(status));
}

TEST_CASE("examples/operations in one process: hive's metrics, health and ready paths; metrics behind a token") {
  ::setenv("METRICS_TOKEN", "s3cret", 1);  // the child inherits it
  process p({hive::test::example_path("operations"), "--port", "0", "--workers", "0", "--host", "127.0.0.1",
             "--metrics-path", "/metrics", "--health-path", "/healthz", "--ready-path", "/readyz"});
  ::unsetenv("METRICS_TOKEN");
  const auto line = p.wait_for_line("listening on", 5s);
  REQUIRE(!line.empty());
  const auto port = hive::test::port_in(line);
  REQUIRE(port != 0);
  CHECK(ask(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").body == "Hello, world!\n");
  CHECK(ask(port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").status == 200);
  CHECK(ask(port, "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n").status == 200);
  const auto m = ask(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(m.status == 200);
  CHECK(m.body.find("hive_requests_total{worker=\"0\",method=\"GET\"} 3\n") != std::string::npos);
  CHECK(ask(port, "GET /admin/metrics HTTP/1.1\r\nHost: x\r\n\r\n").status == 401);
  const auto mounted = ask(port, "GET /admin/metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n\r\n");
  CHECK(mounted.status == 200);
  CHECK(mounted.body.find("# TYPE hive_request_duration_seconds histogram\n") != std::string::npos);
  const int status = p.stop(SIGTERM, 5s);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

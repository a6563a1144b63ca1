// examples/notes-api as a black box over loopback, with two workers: the behaviours its README
// promises (auth, JSON errors, CORS on every /api answer, notes shared by the workers and kept
// across a reload, the combined access log on stdout) and the rate limit shared by both worker
// processes (a client gets the limit once, not once per worker).
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <thread>

#include <doctest/doctest.h>

#include "cluster_test_util.hpp"

using namespace hive::test;

namespace {

constexpr const char* notes_auth = "Authorization: Bearer s3cret\r\n";
constexpr const char* notes_origin = "Origin: https://app.example\r\n";

http_result notes_send(client& c, const std::string& method, const std::string& path, const std::string& headers,
                       const std::string& body = {}) {
  std::string raw = method + " " + path + " HTTP/1.1\r\nHost: test\r\n" + headers;
  if (!body.empty() || method == "POST") {
    raw += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  raw += "\r\n" + body;
  http_result r;
  if (!c.connected() || !c.send(raw)) return r;
  auto rr = c.read_responses(1, 5s);
  if (rr.responses.empty()) return r;
  r.ok = true;
  r.res = rr.responses.front();
  return r;
}

http_result notes_once(std::uint16_t port, const std::string& method, const std::string& path,
                       const std::string& headers, const std::string& body = {}) {
  client c(port);
  return notes_send(c, method, path, headers + "Connection: close\r\n", body);
}

// A keep-alive connection served by `slot`'s worker (fresh connections until one lands there).
std::unique_ptr<client> notes_slot(std::uint16_t port, int slot) {
  for (int i = 0; i < 200; ++i) {
    auto c = std::make_unique<client>(port);
    const auto r = notes_send(*c, "GET", "/healthz", "");
    if (!r.ok) continue;
    const auto j = nlohmann::json::parse(r.res.body, nullptr, false);
    if (j.is_object() && j.value("slot", -1) == slot) return c;
  }
  return nullptr;
}

bool is_json_error(const http_result& r, int status) {
  if (!r.ok || r.res.status != status) return false;
  const auto j = nlohmann::json::parse(r.res.body, nullptr, false);
  return j.is_object() && j.contains("error") && r.res.header("Content-Type") == "application/json";
}

}  // namespace

TEST_CASE("examples/notes-api: auth, JSON errors, CORS, notes across workers and a reload, access log, shared rate limit") {
  const char* exe = std::getenv("HIVE_NOTES_API");
  if (exe == nullptr) {
    MESSAGE("skipped: built without the examples");
    return;
  }
  ::setenv("HIVE_CLUSTER_FIXTURE", exe, 1);  // cluster_process runs what it names
  cluster_process c(fixture_args({"--access-log", "combined", "--rate-limit", "100/s"}), {"NOTES_TOKEN=s3cret"},
                    /*capture_stdout=*/true);
  const auto port = c.wait_listening();
  REQUIRE(port != 0);

  CHECK(notes_once(port, "GET", "/healthz", "").res.status == 200);

  // Auth: none, a wrong one, and the right one.
  const auto none = notes_once(port, "POST", "/api/notes", notes_origin, R"({"text":"x"})");
  CHECK(is_json_error(none, 401));
  CHECK(none.res.header("WWW-Authenticate") == "Bearer");
  CHECK(none.res.header("Access-Control-Allow-Origin") == "https://app.example");
  const auto wrong = notes_once(port, "POST", "/api/notes", "Authorization: Bearer nope\r\n", R"({"text":"x"})");
  CHECK(is_json_error(wrong, 401));
  CHECK(wrong.res.header("WWW-Authenticate") == "Bearer");
  CHECK(is_json_error(notes_once(port, "POST", "/api/notes", notes_auth, R"({"text":)"), 400));

  // A note made on one worker is read from the other.
  auto w0 = notes_slot(port, 0);
  auto w1 = notes_slot(port, 1);
  REQUIRE(w0);
  REQUIRE(w1);
  const auto made = notes_send(*w0, "POST", "/api/notes", notes_auth, R"({"text":"buy milk"})");
  REQUIRE(made.res.status == 201);
  const auto note = nlohmann::json::parse(made.res.body);
  REQUIRE(note.contains("id"));
  const std::string path = "/api/notes/" + std::to_string(note["id"].get<long>());
  const auto read = notes_send(*w1, "GET", path, notes_auth);
  CHECK(read.res.status == 200);
  CHECK(nlohmann::json::parse(read.res.body)["text"] == "buy milk");
  CHECK(is_json_error(notes_send(*w1, "GET", "/api/notes/999999", notes_auth), 404));
  const auto nope = notes_send(*w0, "GET", "/api/nope", std::string(notes_auth) + notes_origin);
  CHECK(is_json_error(nope, 404));
  CHECK(nope.res.header("Access-Control-Allow-Origin") == "https://app.example");

  // A CORS preflight (no credentials: browsers never send them on one).
  const auto pre = notes_once(port, "OPTIONS", "/api/notes",
                              std::string(notes_origin) + "Access-Control-Request-Method: POST\r\n");
  CHECK(pre.res.status == 204);
  CHECK(pre.res.header("Access-Control-Allow-Origin") == "https://app.example");
  CHECK(pre.res.header("Access-Control-Allow-Methods").value_or("").find("POST") != std::string::npos);

  // The access log: Combined Log Format on stdout, the client's address, status and bytes.
  const auto line = c.wait_for("\"POST /api/notes HTTP/1.1\" 201 ", 3s);
  REQUIRE(line);
  CHECK(line->starts_with("127.0.0.1 - - ["));
  CHECK(line->find("\" 201 " + std::to_string(made.res.body.size()) + " ") != std::string::npos);
  CHECK(c.wait_for("\"GET /api/nope HTTP/1.1\" 404 ", 3s));

  // The rate limit holds across both workers: 2 s of requests as fast as they go through both
  // get 100 per second in all plus the burst (10), where a limiter per worker would give twice.
  std::this_thread::sleep_for(1100ms);  // the requests above leave the window
  std::atomic<int> allowed{0}, refused{0};
  std::atomic<bool> retry_after_ok{true};
  const auto until = std::chrono::steady_clock::now() + 2s;
  std::vector<std::thread> ts;
  for (client* conn : {w0.get(), w1.get()}) {
    ts.emplace_back([&, conn] {
      while (std::chrono::steady_clock::now() < until) {
        const auto r = notes_send(*conn, "GET", "/healthz", "");
        if (!r.ok) break;
        if (r.res.status == 200) {
          ++allowed;
        } else if (r.res.status == 429) {
          ++refused;
          if (r.res.header("Retry-After").value_or("").empty()) retry_after_ok = false;
        }
      }
    });
  }
  for (auto& t : ts) t.join();
  MESSAGE("rate limit 100/s over 2 s and 2 workers: ", allowed.load(), " allowed, ", refused.load(), " refused");
  CHECK(allowed >= 180);
  CHECK(allowed <= 240);
  CHECK(refused > 0);
  CHECK(retry_after_ok);

  // A rolling reload replaces both workers; the notes are the primary's.
  c.signal(SIGHUP);
  REQUIRE(c.wait_for("reload done", 20s));
  std::this_thread::sleep_for(1100ms);  // out of the rate limit's window
  for (int i = 0; i < 4; ++i) {
    const auto again = notes_once(port, "GET", path, notes_auth);
    CHECK(again.res.status == 200);
    CHECK(nlohmann::json::parse(again.res.body, nullptr, false).value("text", "") == "buy milk");
  }
  c.signal(SIGTERM);
  CHECK(c.wait_exit(15s) == 0);
}

TEST_CASE("examples/notes-api: SIGUSR1 to the primary makes every worker reopen the access log (logrotate)") {
  const char* exe = std::getenv("HIVE_NOTES_API");
  if (exe == nullptr) {
    MESSAGE("skipped: built without the examples");
    return;
  }
  ::setenv("HIVE_CLUSTER_FIXTURE", exe, 1);
  char dir[] = "/tmp/hive-notes-log-XXXXXX";
  REQUIRE(::mkdtemp(dir) != nullptr);
  const std::string path = std::string(dir) + "/access.log";
  const auto lines_in = [](const std::string& p) {
    std::ifstream in(p);
    std::size_t n = 0;
    for (std::string l; std::getline(in, l);) n += l.find("/healthz") != std::string::npos;
    return n;
  };
  {
    cluster_process c(fixture_args({"--access-log", "common", "--access-log-file", path, "--token", "s3cret"}));
    const auto port = c.wait_listening();
    REQUIRE(port != 0);
    auto w0 = notes_slot(port, 0);  // one request logged on each worker at least
    auto w1 = notes_slot(port, 1);
    REQUIRE(w0);
    REQUIRE(w1);
    std::this_thread::sleep_for(300ms);
    const std::size_t before = lines_in(path);
    CHECK(before >= 2);
    REQUIRE(::rename(path.c_str(), (path + ".1").c_str()) == 0);
    c.signal(SIGUSR1);
    std::this_thread::sleep_for(300ms);  // the message reaches both workers
    CHECK(notes_send(*w0, "GET", "/healthz", "").res.status == 200);
    CHECK(notes_send(*w1, "GET", "/healthz", "").res.status == 200);
    std::this_thread::sleep_for(300ms);
    CHECK(lines_in(path) == 2);             // the new file, from both workers
    CHECK(lines_in(path + ".1") == before);  // nothing more in the rotated one
    c.signal(SIGTERM);
    CHECK(c.wait_exit(15s) == 0);
  }
  ::unlink(path.c_str());
  ::unlink((path + ".1").c_str());
  ::rmdir(dir);
}

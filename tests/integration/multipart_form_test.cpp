// hive::multipart_form over real sockets: fields kept, files streamed to disk, data to a callback,
// and the answers for a bad form (415, 400, 413), with the files of a failed form removed.
#include <sys/stat.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "support/client.hpp"

using namespace std::chrono_literals;

namespace {

struct form_dir {
  std::string path;
  form_dir() {
    char t[] = "/tmp/hive-form-XXXXXX";
    REQUIRE(::mkdtemp(t) != nullptr);
    path = t;
  }
  ~form_dir() { std::system(("rm -rf '" + path + "'").c_str()); }
};

bool file_exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0;
}

std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// What the routes saw, touched on the server's thread only.
struct form_seen {
  int fails = 0;
  std::uint64_t streamed = 0;
};

hive::app form_app(const std::string& dir, std::shared_ptr<form_seen> seen) {
  hive::app app;
  // Files to DIR/<n>, fields kept, a part named "stream" counted by a callback.
  app.post("/form", [dir, seen](const hive::request& req, hive::response& res) {
    hive::multipart_form form(req, res, {.limits = {.max_parts = 5}, .max_field_bytes = 100});
    auto n = std::make_shared<int>(0);
    form.on_part([dir, seen, n](const hive::multipart_form::part& p) {
      if (p.name == "stream") {
        return hive::multipart_form::sink::data([seen](std::string_view d) { seen->streamed += d.size(); });
      }
      if (p.name == "ignored") return hive::multipart_form::sink::discard();
      if (!p.filename) return hive::multipart_form::sink::keep();
      return hive::multipart_form::sink::file(dir + "/" + std::to_string(++*n));
    });
    form.on_end([](std::vector<hive::multipart_form::part>& parts, hive::response& r) {
      nlohmann::json j = nlohmann::json::array();
      for (const auto& p : parts) {
        j.push_back({{"name", p.name}, {"filename", p.filename.value_or("")}, {"type", p.content_type},
                     {"size", p.size}, {"value", p.value}, {"saved", p.saved_to}});
      }
      r.status(201).json(j);
    });
    form.on_fail([seen] { ++seen->fails; });
  }, {.max_body = 64u << 20, .stream_body = true});
  return app;
}

std::string form_request(std::string_view body, std::string_view type = "multipart/form-data; boundary=\"B-1\"",
                         bool chunked = false) {
  std::string r = "POST /form HTTP/1.1\r\nHost: x\r\nContent-Type: " + std::string(type) + "\r\n";
  if (chunked) return r + "Transfer-Encoding: chunked\r\n\r\n";
  return r + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

std::string form_part(std::string_view disposition, std::string_view data, std::string_view extra = "") {
  return "--B-1\r\nContent-Disposition: form-data; " + std::string(disposition) + "\r\n" + std::string(extra) +
         "\r\n" + std::string(data) + "\r\n";
}

}  // namespace

TEST_CASE("multipart form: fields kept, files on disk, data to a callback, sent a few bytes at a time and chunked") {
  form_dir d;
  auto seen = std::make_shared<form_seen>();
  const hive::app app = form_app(d.path, seen);
  hive::test::test_server server(app, hive::options{});
  std::string file_bytes;
  for (std::uint64_t i = 0; i < 300000; ++i) file_bytes += static_cast<char>((i * 7919) % 251);  // CRs, LFs, dashes
  const std::string body = "preamble\r\n" + form_part("name=\"title\"", "a title") +
                           form_part("name=\"up\"; filename=\"a.bin\"", file_bytes, "Content-Type: application/octet-stream\r\n") +
                           form_part("name=\"stream\"", std::string(100000, 's')) +
                           form_part("name=\"ignored\"", "dropped") + "--B-1--\r\n";
  hive::test::client c(server.port());
  REQUIRE(c.send(form_request(body, "multipart/form-data; boundary=\"B-1\"", true)));
  // Chunks of odd sizes in separate writes: boundaries fall across reads.
  for (std::size_t at = 0, n = 1; at < body.size(); at += n, n = n * 5 % 65521 + 1) {
    n = std::min(n, body.size() - at);
    char size[20];
    std::snprintf(size, sizeof size, "%zx\r\n", n);
    REQUIRE(c.send(size + body.substr(at, n) + "\r\n"));
  }
  REQUIRE(c.send("0\r\n\r\n"));
  const auto r = c.read_responses(1, 10s);
  REQUIRE(r.responses.size() == 1);
  CHECK(r.responses[0].status == 201);
  const auto j = nlohmann::json::parse(r.responses[0].body, nullptr, false);
  REQUIRE(j.is_array());
  REQUIRE(j.size() == 4);
  CHECK(j[0]["name"] == "title");
  CHECK(j[0]["value"] == "a title");
  CHECK(j[0]["type"] == "text/plain");
  CHECK(j[1]["filename"] == "a.bin");
  CHECK(j[1]["type"] == "application/octet-stream");
  CHECK(j[1]["size"] == file_bytes.size());
  CHECK(j[1]["value"] == "");
  CHECK(j[1]["saved"] == d.path + "/1");
  CHECK(slurp(d.path + "/1") == file_bytes);
  CHECK(j[2]["size"] == 100000);
  CHECK(j[3]["size"] == 7);
  CHECK(j[3]["value"] == "");
  server.run_on_loop([&] {
    CHECK(seen->streamed == 100000);
    CHECK(seen->fails == 0);
  });
  // The connection goes on: a second form on it.
  REQUIRE(c.send(form_request(form_part("name=\"x\"", "y") + "--B-1--")));
  const auto again = c.read_responses(1, 5s);
  REQUIRE(again.responses.size() == 1);
  CHECK(again.responses[0].status == 201);
}

TEST_CASE("multipart form: not a form 415; a bad boundary, a malformed body or no close delimiter 400; limits 413") {
  form_dir d;
  auto seen = std::make_shared<form_seen>();
  const hive::app app = form_app(d.path, seen);
  hive::test::test_server server(app, hive::options{});
  const auto status_of = [&](const std::string& raw) {
    hive::test::client c(server.port());
    c.send(raw);
    const auto r = c.read_responses(1, 5s);
    return r.responses.size() == 1 ? r.responses[0].status : 0;
  };
  const std::string ok = form_part("name=\"a\"", "b") + "--B-1--";
  CHECK(status_of(form_request(ok)) == 201);
  CHECK(status_of(form_request(ok, "application/json")) == 415);
  CHECK(status_of(form_request(ok, "multipart/form-data")) == 400);
  CHECK(status_of(form_request(ok, "multipart/form-data; boundary=" + std::string(71, 'x'))) == 400);
  CHECK(status_of(form_request(form_part("name=\"a\"", "b"))) == 400);           // no `--B-1--`
  CHECK(status_of(form_request("--B-1X\r\n" + ok)) == 400);                        // text after a boundary
  CHECK(status_of(form_request("--B-1\r\nContent-Type: a/b\r\n\r\nx\r\n--B-1--")) == 400);  // no disposition
  std::string six;
  for (int i = 0; i < 6; ++i) six += form_part("name=\"a\"", "b");
  CHECK(status_of(form_request(six + "--B-1--")) == 413);                           // max_parts 5
  CHECK(status_of(form_request(form_part("name=\"a\"", std::string(101, 'v')) + "--B-1--")) == 413);  // max_field_bytes
  CHECK(status_of(form_request(form_part("name=\"a\"", "b", "X: " + std::string(9000, 'h') + "\r\n") + "--B-1--")) == 413);
  server.run_on_loop([&] { CHECK(seen->fails == 6); });
}

TEST_CASE("multipart form: a form refused in the middle, or cut by the client, leaves no file") {
  form_dir d;
  auto seen = std::make_shared<form_seen>();
  const hive::app app = form_app(d.path, seen);
  hive::test::test_server server(app, hive::options{});
  const std::string file = form_part("name=\"f\"; filename=\"x\"", std::string(200000, 'f'));
  {
    // A file part, then garbage, then more body the server no longer wants: 400, close, no file.
    hive::test::client c(server.port());
    const std::string body = file + "--B-1\r\nbroken header\r\n\r\n" + std::string(100000, 'z');
    REQUIRE(c.send(form_request(body + "\r\n--B-1--")));
    const auto r = c.read_responses(1, 5s);
    REQUIRE(r.responses.size() == 1);
    CHECK(r.responses[0].status == 400);
    CHECK(r.responses[0].header("Connection") == "close");
    CHECK(c.wait_closed(5s));
    CHECK(!file_exists(d.path + "/1"));
  }
  {
    // The client goes away after the file part began.
    hive::test::client c(server.port());
    const std::string head = form_request(file + "--B-1--");
    REQUIRE(c.send(head.substr(0, head.size() - 1000)));
    bool started = false;
    for (int i = 0; i < 200 && !started; ++i) {
      std::this_thread::sleep_for(10ms);
      started = file_exists(d.path + "/1");
    }
    CHECK(started);
  }
  bool failed = false;
  for (int i = 0; i < 200 && !failed; ++i) {
    std::this_thread::sleep_for(10ms);
    server.run_on_loop([&] { failed = seen->fails == 2; });
  }
  CHECK(failed);
  CHECK(!file_exists(d.path + "/1"));
}

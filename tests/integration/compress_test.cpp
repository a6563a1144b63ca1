// hive::filters::compress over real sockets: each coding negotiated and decoded by the
// libraries' own decoders, what is never coded (no Accept-Encoding, small bodies, other types,
// HEAD, 204/206/304, answers already coded, file bodies), ETags made weak, and a streamed body —
// plain and server-sent events — decodable part by part while it is still open.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "support/client.hpp"
#include "support/content_decode.hpp"

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"  // g++ 12 and designated initializers

using namespace std::chrono_literals;

namespace {

std::string cz_json(std::size_t bytes) {
  std::string s = "[";
  for (int i = 0; s.size() < bytes; ++i) s += "{\"id\":" + std::to_string(i) + ",\"text\":\"note number " + std::to_string(i) + "\"},";
  s.back() = ']';
  return s;
}

// Streams the handlers started, for the test to write to from the server's loop.
std::vector<hive::stream> cz_streams;
std::vector<hive::event_stream> cz_events;

hive::app cz_app(const std::string& file_path) {
  hive::app app;
  app.use(hive::filters::compress({.min_bytes = 1000, .stream_codings = {"zstd", "br", "gzip"}}));
  app.get("/json", [](const hive::request&, hive::response& res) {
    res.header("ETag", "\"v1\"").body(cz_json(20000), "application/json");
  });
  app.get("/weak", [](const hive::request&, hive::response& res) {
    res.header("ETag", "W/\"v1\"").body(cz_json(20000), "application/json");
  });
  app.get("/small", [](const hive::request&, hive::response& res) { res.text("short"); });
  app.get("/png", [](const hive::request&, hive::response& res) { res.body(std::string(5000, 'x'), "image/png"); });
  app.get("/svg", [](const hive::request&, hive::response& res) { res.body(std::string(5000, 'x'), "image/svg+xml"); });
  app.get("/partial", [](const hive::request&, hive::response& res) {
    res.status(206).header("Content-Range", "bytes 0-4999/9999").text(std::string(5000, 'x'));
  });
  app.get("/not-modified", [](const hive::request&, hive::response& res) { res.status(304).header("ETag", "\"v1\""); });
  app.get("/empty", [](const hive::request&, hive::response& res) { res.status(204); });
  app.get("/coded", [](const hive::request&, hive::response& res) {
    res.header("Content-Encoding", "gzip").body(std::string(5000, 'x'), "text/plain");
  });
  app.get("/vary", [](const hive::request&, hive::response& res) {
    res.header("Vary", "Origin, accept-encoding").text(std::string(5000, 'x'));
  });
  app.get("/file", [file_path](const hive::request&, hive::response& res) {
    const int fd = ::open(file_path.c_str(), O_RDONLY | O_CLOEXEC);
    auto owner = std::shared_ptr<void>(nullptr, [fd](void*) { ::close(fd); });
    res.file_range(fd, 0, 5000, owner, "text/plain");
  });
  app.get("/stream", [](const hive::request&, hive::response& res) {
    auto s = res.stream("text/plain");
    s.write("first part\n");
    cz_streams.push_back(s);
  });
  app.get("/events", [](const hive::request&, hive::response& res) {
    auto e = hive::event_stream(res, {.heartbeat = 0ms});
    e.send("hello", "greeting", "1");
    cz_events.push_back(e);
  });
  return app;
}

hive::test::parsed_response cz_get(std::uint16_t port, const std::string& path, const std::string& headers = {},
                                   const std::string& method = "GET") {
  hive::test::client c(port);
  c.send(method + " " + path + " HTTP/1.1\r\nHost: x\r\n" + headers + "\r\n");
  auto r = c.read_responses(1, 5s, {method == "HEAD"});
  REQUIRE(r.responses.size() == 1);
  return r.responses[0];
}

// A chunked body read so far from `raw` (after the head): the chunks' data joined; `ended` when
// the last chunk arrived.
std::string cz_dechunk(std::string_view raw, bool& ended) {
  ended = false;
  const auto head_end = raw.find("\r\n\r\n");
  if (head_end == std::string_view::npos) return {};
  raw.remove_prefix(head_end + 4);
  std::string data;
  for (;;) {
    const auto eol = raw.find("\r\n");
    if (eol == std::string_view::npos) return data;
    const std::size_t size = std::stoul(std::string(raw.substr(0, eol)), nullptr, 16);
    if (size == 0) {
      ended = true;
      return data;
    }
    if (raw.size() < eol + 2 + size + 2) return data;
    data.append(raw.substr(eol + 2, size));
    raw.remove_prefix(eol + 2 + size + 2);
  }
}

// Reads from `c` into `raw` until the data decoded so far equals `want` (or 5 s pass).
bool cz_read_until_decoded(hive::test::client& c, std::string& raw, std::string_view coding, std::string_view want) {
  const auto give_up = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < give_up) {
    bool ended = false;
    const auto decoded = hive::test::decode(coding, cz_dechunk(raw, ended), false);
    if (decoded && *decoded == want) return true;
    raw += c.read_for(50ms);
  }
  return false;
}

struct cz_file {
  std::string path;
  cz_file() {
    char name[] = "/tmp/hive-compress-XXXXXX";
    const int fd = ::mkstemp(name);
    REQUIRE(fd >= 0);
    const std::string text(5000, 'f');
    REQUIRE(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    ::close(fd);
    path = name;
  }
  ~cz_file() { ::unlink(path.c_str()); }
};

}  // namespace

TEST_CASE("integration: compress: each coding negotiated, decoded, with Vary and a weak ETag") {
  cz_file file;
  const hive::app app = cz_app(file.path);
  hive::test::test_server server(app, {});
  const auto port = server.port();
  const std::string json = cz_json(20000);

  for (const auto coding : hive::filters::compress_codings()) {
    CAPTURE(coding);
    const auto r = cz_get(port, "/json", "Accept-Encoding: " + std::string(coding) + "\r\n");
    CHECK(r.status == 200);
    CHECK(r.header("Content-Encoding") == std::string(coding));
    CHECK(r.header("Vary") == "Accept-Encoding");
    CHECK(r.header("ETag") == "W/\"v1\"");
    CHECK(r.header("Content-Type") == "application/json");
    CHECK(r.header("Content-Length") == std::to_string(r.body.size()));
    CHECK(r.body.size() < json.size() / 4);
    const auto back = hive::test::decode(coding, r.body);
    REQUIRE(back.has_value());
    CHECK(*back == json);
  }
  // A browser's list: the server's order (zstd first); q-values override it.
  CHECK(cz_get(port, "/json", "Accept-Encoding: gzip, deflate, br, zstd\r\n").header("Content-Encoding") == "zstd");
  CHECK(cz_get(port, "/json", "Accept-Encoding: gzip;q=0.5, br;q=0.9\r\n").header("Content-Encoding") == "br");
  CHECK(cz_get(port, "/json", "Accept-Encoding: *;q=0.1, zstd;q=0\r\n").header("Content-Encoding") == "br");
  CHECK(cz_get(port, "/json", "Accept-Encoding: gzip\r\nAccept-Encoding: zstd;q=0.5\r\n").header("Content-Encoding") == "gzip");
  CHECK(cz_get(port, "/weak", "Accept-Encoding: gzip\r\n").header("ETag") == "W/\"v1\"");
  CHECK(cz_get(port, "/svg", "Accept-Encoding: gzip\r\n").header("Content-Encoding") == "gzip");
  // A Vary that names Accept-Encoding already is not repeated.
  const auto vary = cz_get(port, "/vary", "Accept-Encoding: gzip\r\n");
  CHECK(vary.header("Content-Encoding") == "gzip");
  CHECK(vary.count("Vary") == 1);
}

TEST_CASE("integration: compress: what is sent as it is") {
  cz_file file;
  const hive::app app = cz_app(file.path);
  hive::test::test_server server(app, {});
  const auto port = server.port();
  const std::string json = cz_json(20000);

  // No Accept-Encoding, refusals and identity preferred: identity, but the answer varies on it.
  for (const char* ae : {"", "Accept-Encoding: \r\n", "Accept-Encoding: gzip;q=0, br;q=0, zstd;q=0\r\n",
                         "Accept-Encoding: deflate\r\n", "Accept-Encoding: gzip;q=0.5, identity\r\n",
                         "Accept-Encoding: gzip;q=7\r\n"}) {
    CAPTURE(ae);
    const auto r = cz_get(port, "/json", ae);
    CHECK_FALSE(r.header("Content-Encoding").has_value());
    CHECK(r.header("Vary") == "Accept-Encoding");
    CHECK(r.header("ETag") == "\"v1\"");  // the bytes it names: still strong
    CHECK(r.body == json);
  }
  const std::string gzip = "Accept-Encoding: gzip, br, zstd\r\n";
  const auto small = cz_get(port, "/small", gzip);
  CHECK_FALSE(small.header("Content-Encoding").has_value());
  CHECK_FALSE(small.header("Vary").has_value());
  CHECK(small.body == "short");
  // ... unless the client refuses identity: then even a small body is coded.
  const auto refused = cz_get(port, "/small", "Accept-Encoding: gzip, identity;q=0\r\n");
  CHECK(refused.header("Content-Encoding") == "gzip");
  CHECK(hive::test::decode("gzip", refused.body) == "short");
  const auto png = cz_get(port, "/png", gzip);
  CHECK_FALSE(png.header("Content-Encoding").has_value());
  CHECK_FALSE(png.header("Vary").has_value());
  CHECK(png.body.size() == 5000);
  const auto head = cz_get(port, "/json", gzip, "HEAD");
  CHECK_FALSE(head.header("Content-Encoding").has_value());
  CHECK(head.header("Vary") == "Accept-Encoding");
  CHECK(head.header("Content-Length") == std::to_string(json.size()));
  const auto partial = cz_get(port, "/partial", gzip);
  CHECK(partial.status == 206);
  CHECK_FALSE(partial.header("Content-Encoding").has_value());
  CHECK(partial.body.size() == 5000);
  const auto not_modified = cz_get(port, "/not-modified", gzip);
  CHECK(not_modified.status == 304);
  CHECK_FALSE(not_modified.header("Content-Encoding").has_value());
  CHECK(not_modified.header("ETag") == "\"v1\"");
  CHECK(cz_get(port, "/empty", gzip).status == 204);
  const auto coded = cz_get(port, "/coded", gzip);
  CHECK(coded.count("Content-Encoding") == 1);
  CHECK(coded.body == std::string(5000, 'x'));
  const auto file_body = cz_get(port, "/file", gzip);
  CHECK_FALSE(file_body.header("Content-Encoding").has_value());
  CHECK(file_body.body == std::string(5000, 'f'));
  // hive's own answers are text too, but small.
  CHECK_FALSE(cz_get(port, "/nowhere", gzip).header("Content-Encoding").has_value());
}

TEST_CASE("integration: compress: a streamed body is coded as it streams, each part flushed") {
  cz_file file;
  const hive::app app = cz_app(file.path);
  hive::test::test_server server(app, {});
  const auto port = server.port();
  for (const auto coding : hive::filters::compress_codings()) {
    CAPTURE(coding);
    cz_streams.clear();
    hive::test::client c(port);
    c.send("GET /stream HTTP/1.1\r\nHost: x\r\nAccept-Encoding: " + std::string(coding) + "\r\n\r\n");
    std::string raw;
    REQUIRE(cz_read_until_decoded(c, raw, coding, "first part\n"));
    CHECK(raw.find("Content-Encoding: " + std::string(coding) + "\r\n") != std::string::npos);
    CHECK(raw.find("Transfer-Encoding: chunked\r\n") != std::string::npos);
    std::string want = "first part\n";
    for (int i = 0; i < 5; ++i) {
      const std::string part = "part " + std::to_string(i) + ": " + std::string(static_cast<std::size_t>(i) * 3000, 'a' + static_cast<char>(i)) + "\n";
      server.run_on_loop([&] { REQUIRE(cz_streams.at(0).write(part)); });
      want += part;
      REQUIRE(cz_read_until_decoded(c, raw, coding, want));  // there before the stream ends
    }
    server.run_on_loop([] { cz_streams.at(0).end(); });
    const auto give_up = std::chrono::steady_clock::now() + 5s;
    bool ended = false;
    std::string body = cz_dechunk(raw, ended);
    while (!ended && std::chrono::steady_clock::now() < give_up) {
      raw += c.read_for(50ms);
      body = cz_dechunk(raw, ended);
    }
    REQUIRE(ended);
    CHECK(hive::test::decode(coding, body, true) == want);  // the coding's end arrived too
    server.run_on_loop([] { cz_streams.clear(); });
  }
}

TEST_CASE("integration: compress: by default a stream is not coded in brotli (its memory per stream)") {
  hive::app app;
  app.use(hive::filters::compress());
  app.get("/stream", [](const hive::request&, hive::response& res) {
    auto s = res.stream("text/plain");
    s.write("x");
    s.end();
  });
  hive::test::test_server server(app, {});
  const auto br = cz_get(server.port(), "/stream", "Accept-Encoding: br\r\n");
  CHECK_FALSE(br.header("Content-Encoding").has_value());
  CHECK(br.header("Vary") == "Accept-Encoding");
  CHECK(br.body == "x");
  CHECK(cz_get(server.port(), "/stream", "Accept-Encoding: br, gzip\r\n").header("Content-Encoding") == "gzip");
}

TEST_CASE("integration: compress: server-sent events reach the client one by one, coded") {
  cz_file file;
  const hive::app app = cz_app(file.path);
  hive::test::test_server server(app, {});
  hive::test::client c(server.port());
  c.send("GET /events HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n");
  std::string raw;
  std::string want = "event: greeting\nid: 1\ndata: hello\n\n";
  REQUIRE(cz_read_until_decoded(c, raw, "gzip", want));
  CHECK(raw.find("Content-Type: text/event-stream\r\n") != std::string::npos);
  CHECK(raw.find("Content-Encoding: gzip\r\n") != std::string::npos);
  server.run_on_loop([] { cz_events.at(0).send("line one\nline two", {}, "2"); });
  want += "id: 2\ndata: line one\ndata: line two\n\n";
  REQUIRE(cz_read_until_decoded(c, raw, "gzip", want));
  server.run_on_loop([] {
    cz_events.at(0).end();
    cz_events.clear();
  });
}

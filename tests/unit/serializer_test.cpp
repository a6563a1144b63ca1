// The serializer: a response head and body as bytes in the output queue, byte for byte.
#include <doctest/doctest.h>

#include <string>

#include <hive/response.hpp>

#include "http/serializer.hpp"

using hive::detail::output_queue;
using hive::detail::response_head;

namespace {

constexpr std::string_view common = "Server: hive\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n";

std::string queued(const output_queue& q) {
  iovec iov[8];
  output_queue::file_range file;
  const int n = q.next(iov, 8, file);
  std::string out;
  for (int i = 0; i < n; ++i) out.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
  REQUIRE(out.size() == q.bytes());
  return out;
}

// The head as the session builds it, and the response as a handler left it.
struct spec {
  int status = 200;
  std::string_view common;
  std::string_view content_type;  // empty: none set (a body then gets hive's default type)
  std::string_view fields;        // "Name: value\r\n" lines, set with header()
  bool close = false;
  bool keep_alive_10 = false;
  bool head_request = false;
};

hive::response make_response(const spec& s, std::string_view body, bool with_body) {
  hive::response res;
  res.status(s.status);
  std::string_view rest = s.fields;
  while (!rest.empty()) {
    const auto eol = rest.find("\r\n");
    const auto line = rest.substr(0, eol);
    const auto colon = line.find(": ");
    res.header(line.substr(0, colon), line.substr(colon + 2));
    rest.remove_prefix(eol + 2);
  }
  if (!s.content_type.empty()) res.header("Content-Type", s.content_type);
  if (with_body) res.body(body);
  return res;
}

std::string serialized(const spec& s, std::string_view body, bool with_body = true) {
  response_head h;
  h.common = s.common;
  h.close = s.close;
  h.keep_alive_10 = s.keep_alive_10;
  h.head_request = s.head_request;
  output_queue q;
  hive::detail::serialize(q, h, make_response(s, body, with_body));
  return queued(q);
}

spec head(int status) {
  spec h;
  h.status = status;
  h.common = common;
  return h;
}

}  // namespace

TEST_CASE("serializer: status line, hive's fields, the handler's, Content-Length, body") {
  spec h = head(200);
  h.content_type = "text/plain; charset=utf-8";
  h.fields = "X-One: 1\r\nX-Two: 2\r\n";
  CHECK(serialized(h, "Hello") ==
        "HTTP/1.1 200 OK\r\n"
        "Server: hive\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "X-One: 1\r\nX-Two: 2\r\n"
        "Content-Length: 5\r\n"
        "\r\n"
        "Hello");
}

TEST_CASE("serializer: no Content-Type unless a body or the handler sets one; no body is Content-Length: 0") {
  CHECK(serialized(head(200), "", false) ==
        "HTTP/1.1 200 OK\r\n" + std::string(common) + "Content-Length: 0\r\n\r\n");
  spec h = head(404);
  h.common = {};  // --server-name "" and no Date: nothing but what is asked for
  CHECK(serialized(h, "Not Found\n") ==
        "HTTP/1.1 404 Not Found\r\nContent-Type: application/octet-stream\r\nContent-Length: 10\r\n\r\nNot Found\n");
  CHECK(serialized(head(599), "x").starts_with("HTTP/1.1 599 Unknown\r\n"));
}

TEST_CASE("serializer: Content-Length counts bytes of any size") {
  const std::string body(123456, 'b');
  const std::string out = serialized(head(200), body);
  CHECK(out.find("\r\nContent-Length: 123456\r\n\r\n") != std::string::npos);
  CHECK(out.size() == out.find("\r\n\r\n") + 4 + body.size());
}

TEST_CASE("serializer: 204 and 304 carry neither body nor Content-Length") {
  // (A response cannot hold a 1xx status: response::status refuses it.)
  for (const int status : {204, 304}) {
    CAPTURE(status);
    spec h = head(status);
    h.fields = "ETag: \"v1\"\r\n";
    const std::string out = serialized(h, "dropped");
    CHECK(out.find("Content-Length") == std::string::npos);
    CHECK(out.find("dropped") == std::string::npos);
    CHECK(out.ends_with("\r\n\r\n"));
    CHECK(out.find("ETag: \"v1\"\r\n") != std::string::npos);
  }
  // 205 is not bodiless by the rule hive applies: only 1xx, 204, 304.
  CHECK(serialized(head(205), "", false).find("Content-Length: 0") != std::string::npos);
}

TEST_CASE("serializer: HEAD keeps GET's Content-Length and sends no body") {
  spec h = head(200);
  h.content_type = "text/plain";
  h.head_request = true;
  const std::string out = serialized(h, "Hello, world!\n");
  CHECK(out.ends_with("Content-Length: 14\r\n\r\n"));
  CHECK(out.find("Hello") == std::string::npos);
  // A HEAD answered 204 has neither.
  h.status = 204;
  CHECK(serialized(h, "x").find("Content-Length") == std::string::npos);
}

TEST_CASE("serializer: Connection: close, and keep-alive for an HTTP/1.0 client that asked") {
  spec h = head(200);
  CHECK(serialized(h, "").find("Connection") == std::string::npos);  // HTTP/1.1 persists by default
  h.keep_alive_10 = true;
  CHECK(serialized(h, "ok").ends_with("Content-Length: 2\r\nConnection: keep-alive\r\n\r\nok"));
  h.close = true;  // close wins
  const std::string out = serialized(h, "ok");
  CHECK(out.ends_with("Content-Length: 2\r\nConnection: close\r\n\r\nok"));
  CHECK(out.find("keep-alive") == std::string::npos);
  h.keep_alive_10 = false;
  CHECK(serialized(h, "").ends_with("Connection: close\r\n\r\n"));
}

TEST_CASE("serializer: responses serialized back to back share one segment; 100 Continue too") {
  output_queue q;
  hive::detail::serialize_continue(q);
  response_head h;
  h.common = common;
  hive::response one, two;
  one.text("one");
  two.status(201).text("two");
  hive::detail::serialize(q, h, one);
  hive::detail::serialize(q, h, two);
  iovec iov[4];
  output_queue::file_range file;
  REQUIRE(q.next(iov, 4, file) == 1);
  const std::string out = queued(q);
  CHECK(out.starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"));
  CHECK(out.find("\r\n\r\noneHTTP/1.1 201 Created\r\n") != std::string::npos);
  CHECK(out.ends_with("\r\n\r\ntwo"));
}

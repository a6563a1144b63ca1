// The serializer: a response head and body as bytes in the output queue, byte for byte.
#include <doctest/doctest.h>

#include <string>

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

std::string serialized(const response_head& h, std::string_view body) {
  output_queue q;
  hive::detail::serialize(q, h, body);
  return queued(q);
}

response_head head(int status) {
  response_head h;
  h.status = status;
  h.common = common;
  return h;
}

}  // namespace

TEST_CASE("serializer: status line, hive's fields, the handler's, Content-Length, body") {
  response_head h = head(200);
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

TEST_CASE("serializer: no Content-Type unless given; an empty body has Content-Length: 0") {
  CHECK(serialized(head(200), "") ==
        "HTTP/1.1 200 OK\r\n" + std::string(common) + "Content-Length: 0\r\n\r\n");
  response_head h = head(404);
  h.common = {};  // --server-name "" and no Date: nothing but what is asked for
  CHECK(serialized(h, "Not Found\n") == "HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\n\r\nNot Found\n");
  CHECK(serialized(head(599), "x").starts_with("HTTP/1.1 599 Unknown\r\n"));
}

TEST_CASE("serializer: Content-Length counts bytes of any size") {
  const std::string body(123456, 'b');
  const std::string out = serialized(head(200), body);
  CHECK(out.find("\r\nContent-Length: 123456\r\n\r\n") != std::string::npos);
  CHECK(out.size() == out.find("\r\n\r\n") + 4 + body.size());
}

TEST_CASE("serializer: 1xx, 204 and 304 carry neither body nor Content-Length") {
  for (const int status : {100, 103, 204, 304}) {
    CAPTURE(status);
    response_head h = head(status);
    h.fields = "ETag: \"v1\"\r\n";
    const std::string out = serialized(h, "dropped");
    CHECK(out.find("Content-Length") == std::string::npos);
    CHECK(out.find("dropped") == std::string::npos);
    CHECK(out.ends_with("ETag: \"v1\"\r\n\r\n"));
  }
  // 205 is not bodiless by the rule hive applies: only 1xx, 204, 304.
  CHECK(serialized(head(205), "").find("Content-Length: 0") != std::string::npos);
}

TEST_CASE("serializer: HEAD keeps GET's Content-Length and sends no body") {
  response_head h = head(200);
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
  response_head h = head(200);
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
  hive::detail::serialize(q, head(200), "one");
  hive::detail::serialize(q, head(201), "two");
  iovec iov[4];
  output_queue::file_range file;
  REQUIRE(q.next(iov, 4, file) == 1);
  const std::string out = queued(q);
  CHECK(out.starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"));
  CHECK(out.find("\r\n\r\noneHTTP/1.1 201 Created\r\n") != std::string::npos);
  CHECK(out.ends_with("\r\n\r\ntwo"));
}

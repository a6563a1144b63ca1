// The output queue: arena bytes coalesce into one segment across responses, views and file ranges
// keep their place in the order, next() stops at a file range, consume() can stop anywhere.
#include <doctest/doctest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "net/output_queue.hpp"
#include "unit/array_allocations.hpp"

using hive::detail::output_queue;

namespace {

// What the next write would send: the memory segments' bytes, one string per iovec.
std::vector<std::string> next_iovecs(const output_queue& q, int max = 16) {
  iovec iov[16];
  output_queue::file_range file;
  const int n = q.next(iov, max, file);
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.emplace_back(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
  return out;
}

// The file range at the front (fd -1 if the front is memory, or nothing is queued).
output_queue::file_range next_file(const output_queue& q) {
  iovec iov[4];
  output_queue::file_range file;
  file.fd = -1;
  REQUIRE(q.next(iov, 4, file) == 0);
  return file;
}

void append_filled(output_queue& q, std::string_view bytes) {
  std::memcpy(q.append_space(bytes.size()), bytes.data(), bytes.size());
}

}  // namespace

TEST_CASE("output_queue: serialized bytes coalesce into one iovec across responses") {
  output_queue q;
  CHECK(q.empty());
  CHECK(next_iovecs(q).empty());
  q.append("HTTP/1.1 200 OK\r\n\r\n");
  append_filled(q, "HTTP/1.1 204 No Content\r\n\r\n");
  q.append("HTTP/1.1 404 Not Found\r\n\r\n");
  const auto iov = next_iovecs(q);
  REQUIRE(iov.size() == 1);
  CHECK(iov[0] == "HTTP/1.1 200 OK\r\n\r\nHTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 404 Not Found\r\n\r\n");
  CHECK(q.bytes() == iov[0].size());
  CHECK(!q.empty());
}

TEST_CASE("output_queue: empty appends queue nothing") {
  output_queue q;
  q.append("");
  q.append_view("");
  q.append_file({3, 0, 0});
  CHECK(q.empty());
  CHECK(q.bytes() == 0);
  q.append("x");
  q.append_view("");
  q.append("y");
  const auto iov = next_iovecs(q);
  REQUIRE(iov.size() == 1);  // an empty view does not split the arena
  CHECK(iov[0] == "xy");
}

TEST_CASE("output_queue: views and file ranges keep their order; next() stops at a file range") {
  output_queue q;
  const std::string view1 = "<view one>";
  const std::string view2 = "<view two>";
  q.append("head1;");
  q.append_view(view1);
  q.append("head2;");
  q.append_file({7, 100, 50});
  q.append("head3;");
  q.append_view(view2);
  CHECK(q.bytes() == 6 + view1.size() + 6 + 50 + 6 + view2.size());

  // Memory up to the file range, and not a byte of what follows it.
  auto iov = next_iovecs(q);
  REQUIRE(iov.size() == 3);
  CHECK(iov[0] == "head1;");
  CHECK(iov[1] == view1);
  CHECK(iov[2] == "head2;");
  // A view is referenced, not copied.
  iovec raw[4];
  output_queue::file_range unused;
  REQUIRE(q.next(raw, 4, unused) == 3);
  CHECK(raw[1].iov_base == view1.data());

  q.consume(6 + view1.size() + 6);
  // The front is the file range: no iovecs, the range instead.
  auto f = next_file(q);
  CHECK(f.fd == 7);
  CHECK(f.offset == 100);
  CHECK(f.length == 50);

  q.consume(20);  // sendfile sent part of it
  f = next_file(q);
  CHECK(f.fd == 7);
  CHECK(f.offset == 120);
  CHECK(f.length == 30);
  CHECK(q.bytes() == 30 + 6 + view2.size());

  q.consume(30);
  iov = next_iovecs(q);
  REQUIRE(iov.size() == 2);
  CHECK(iov[0] == "head3;");
  CHECK(iov[1] == view2);
  q.consume(q.bytes());
  CHECK(q.empty());
  CHECK(next_iovecs(q).empty());
}

TEST_CASE("output_queue: memory in front of a file range says the range follows") {
  output_queue q;
  q.append("head");
  q.append_file({9, 3, 10});
  iovec iov[4];
  output_queue::file_range file{-5, 1, 2};
  CHECK(q.next(iov, 4, file) == 1);
  // The connection sends the head with MSG_MORE: it leaves with the file's first bytes.
  CHECK(file.fd == 9);
  CHECK(file.offset == 3);
  CHECK(file.length == 10);
  output_queue views;
  views.append("head");
  file = {};
  CHECK(views.next(iov, 4, file) == 1);
  CHECK(file.length == 0);  // nothing follows
}

TEST_CASE("output_queue: next() gives at most `max` iovecs") {
  output_queue q;
  const std::string a = "a", b = "b", c = "c";
  q.append_view(a);
  q.append_view(b);
  q.append_view(c);
  auto iov = next_iovecs(q, 2);
  REQUIRE(iov.size() == 2);
  CHECK(iov[0] == "a");
  CHECK(iov[1] == "b");
  q.consume(2);
  iov = next_iovecs(q, 2);
  REQUIRE(iov.size() == 1);
  CHECK(iov[0] == "c");
}

TEST_CASE("output_queue: consume stops anywhere: inside arena bytes, inside a view, across segments") {
  output_queue q;
  const std::string view = "0123456789";
  q.append("abcdef");
  q.append_view(view);
  q.append("ghij");

  q.consume(4);  // inside the arena
  auto iov = next_iovecs(q);
  REQUIRE(iov.size() == 3);
  CHECK(iov[0] == "ef");
  CHECK(iov[1] == view);
  CHECK(q.bytes() == 2 + 10 + 4);

  q.consume(5);  // the rest of the arena and three bytes into the view
  iov = next_iovecs(q);
  REQUIRE(iov.size() == 2);
  CHECK(iov[0] == "3456789");
  CHECK(iov[1] == "ghij");

  q.consume(7 + 1);  // the rest of the view and one byte of the last segment
  iov = next_iovecs(q);
  REQUIRE(iov.size() == 1);
  CHECK(iov[0] == "hij");
  CHECK(q.bytes() == 3);
}

TEST_CASE("output_queue: bytes appended after a partial consume join the unsent arena bytes") {
  output_queue q;
  q.append("response-1;");
  q.consume(9);  // the socket took part of it
  q.append("response-2;");
  const auto iov = next_iovecs(q);
  REQUIRE(iov.size() == 1);
  CHECK(iov[0] == "1;response-2;");
  CHECK(q.bytes() == 13);
}

TEST_CASE("output_queue: the arena grows under queued segments without moving what they say") {
  output_queue q;
  const std::string view = "[view]";
  q.append("first;");
  q.append_view(view);
  const std::string big(100 * 1000, 'z');  // forces the arena to grow
  q.append(big);
  q.append("last");
  const auto iov = next_iovecs(q);
  REQUIRE(iov.size() == 3);
  CHECK(iov[0] == "first;");
  CHECK(iov[1] == view);
  CHECK(iov[2].size() == big.size() + 4);
  CHECK((iov[2] == big + "last"));
}

TEST_CASE("output_queue: the views' keep-alive handles are released once sent, or on clear") {
  output_queue q;
  auto owner = std::make_shared<std::string>("owned bytes");
  q.append_view(*owner, owner);
  q.append_file({4, 0, 8}, owner);
  CHECK(owner.use_count() == 3);
  q.consume(5);
  CHECK(owner.use_count() == 3);  // partly sent: still needed
  q.consume(owner->size() - 5);
  CHECK(owner.use_count() == 2);
  q.clear();
  CHECK(owner.use_count() == 1);
}

TEST_CASE("output_queue: clear drops everything; the queue is usable again") {
  output_queue q;
  const std::string view = "view";
  q.append("abc");
  q.append_view(view);
  q.append_file({3, 0, 100});
  q.consume(1);
  q.clear();
  CHECK(q.empty());
  CHECK(q.bytes() == 0);
  CHECK(next_iovecs(q).empty());
  q.append("fresh");
  const auto iov = next_iovecs(q);
  REQUIRE(iov.size() == 1);
  CHECK(iov[0] == "fresh");
}

TEST_CASE("output_queue: a drained queue reuses its arena; shrink frees only a large one") {
  output_queue q;
  q.append("warm-up");
  q.consume(q.bytes());
  auto before = hive::test::array_allocations();
  for (int i = 0; i < 100; ++i) {
    q.append("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    q.consume(q.bytes());
  }
  CHECK(hive::test::array_allocations() == before);  // the steady state allocates nothing

  q.shrink();  // a small arena is kept
  before = hive::test::array_allocations();
  q.append("small");
  CHECK(hive::test::array_allocations() == before);
  q.consume(q.bytes());

  const std::string big(1024 * 1024, 'b');
  q.append(big);
  q.shrink();  // not while anything is queued
  CHECK(q.bytes() == big.size());
  auto iov = next_iovecs(q);
  REQUIRE(iov.size() == 1);
  CHECK((iov[0] == big));
  q.consume(q.bytes());
  q.shrink();  // drained and large: freed
  before = hive::test::array_allocations();
  q.append("after");
  CHECK(hive::test::array_allocations() == before + 1);
  iov = next_iovecs(q);
  REQUIRE(iov.size() == 1);
  CHECK(iov[0] == "after");
}

// The input buffer and the worker's pool of them: growing keeps the bytes received, a buffer that
// grew goes back at its normal size, and the pool keeps at most `keep` idle buffers.
#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

#include "net/input_buffer.hpp"
#include "unit/array_allocations.hpp"

using hive::detail::input_buffer;
using hive::detail::input_pool;

namespace {

void receive(input_buffer& b, std::string_view bytes) {
  REQUIRE(b.free_space().size() >= bytes.size());
  std::memcpy(b.free_space().data(), bytes.data(), bytes.size());
  b.len += bytes.size();
}

std::string held(const input_buffer& b) { return std::string(b.data.get(), b.len); }

}  // namespace

TEST_CASE("input_buffer: reserve_free grows and keeps the bytes received") {
  input_pool pool(16);
  input_buffer b = pool.take();
  REQUIRE(b);
  CHECK(b.cap == 16);
  CHECK(b.len == 0);
  CHECK(b.free_space().size() == 16);
  receive(b, "GET / HTTP/1.1\r\n");
  CHECK(b.free_space().empty());

  b.reserve_free(100);
  CHECK(b.free_space().size() >= 100);
  CHECK(b.cap >= 116);
  CHECK(held(b) == "GET / HTTP/1.1\r\n");

  // Enough room already: nothing moves.
  const char* at = b.data.get();
  const std::size_t cap = b.cap;
  b.reserve_free(50);
  CHECK(b.data.get() == at);
  CHECK(b.cap == cap);
}

TEST_CASE("input_buffer: a buffer with no storage yet grows from nothing") {
  input_buffer b;
  CHECK(!b);
  b.reserve_free(10);
  REQUIRE(b);
  CHECK(b.free_space().size() >= 10);
  receive(b, "abc");
  CHECK(held(b) == "abc");
}

TEST_CASE("input_pool: a buffer given back is taken again, emptied, without an allocation") {
  input_pool pool(64, 4);
  input_buffer b = pool.take();
  const char* storage = b.data.get();
  receive(b, "leftover");
  pool.give(std::move(b));
  CHECK(pool.idle() == 1);

  const auto before = hive::test::array_allocations();
  input_buffer again = pool.take();
  CHECK(hive::test::array_allocations() == before);
  CHECK(pool.idle() == 0);
  CHECK(again.data.get() == storage);
  CHECK(again.len == 0);
  CHECK(again.cap == 64);
}

TEST_CASE("input_pool: a grown buffer goes back at its normal size") {
  input_pool pool(64, 4);
  input_buffer b = pool.take();
  b.reserve_free(4096);  // one large request
  REQUIRE(b.cap > 64);
  pool.give(std::move(b));
  REQUIRE(pool.idle() == 1);
  const input_buffer back = pool.take();
  CHECK(back.cap == 64);
  CHECK(back.len == 0);
}

TEST_CASE("input_pool: keeps at most `keep` idle buffers; trim frees them all") {
  input_pool pool(32, 2);
  std::vector<input_buffer> taken;
  for (int i = 0; i < 3; ++i) taken.push_back(pool.take());
  for (auto& b : taken) pool.give(std::move(b));
  CHECK(pool.idle() == 2);
  pool.give(input_buffer{});  // nothing to keep
  CHECK(pool.idle() == 2);
  pool.trim();
  CHECK(pool.idle() == 0);
  const auto before = hive::test::array_allocations();
  const input_buffer fresh = pool.take();  // the pool is empty: a new one
  CHECK(hive::test::array_allocations() == before + 1);
  CHECK(fresh.cap == 32);
}

// The table behind hive::shared_dict, in one process with a clock the test moves: bytes in and
// out, hashing, TTL, incr, LRU eviction and the capacity bound.
#include <cstdlib>
#include <memory>
#include <string>

#include <doctest/doctest.h>

#include "cluster/dict_table.hpp"

using hive::dict_status;
using hive::detail::dict_table;

namespace {

// "k" + std::to_string(i), which g++ 12 warns about (-Wrestrict, a false positive).
std::string name(const char* prefix, long long i) {
  std::string s(prefix);
  s += std::to_string(i);
  return s;
}

struct table_memory {
  explicit table_memory(std::size_t bytes, bool evict = true)
      : mem(static_cast<char*>(std::aligned_alloc(64, bytes))), t(dict_table::create(mem.get(), bytes, evict)) {}
  struct free_it {
    void operator()(char* p) const { std::free(p); }
  };
  std::unique_ptr<char, free_it> mem;
  dict_table* t;
};

std::string get(dict_table& t, std::string_view k, std::int64_t now = 0) {
  std::string out;
  return t.get(k, now, out) ? out : std::string("<absent>");
}

}  // namespace

TEST_CASE("shared dict table: set, get, add, erase; any bytes; values over many chunks") {
  table_memory m(1 << 20);
  dict_table& t = *m.t;
  CHECK(get(t, "a") == "<absent>");
  CHECK(t.set("a", "1", 0, 0, false) == dict_status::ok);
  CHECK(get(t, "a") == "1");
  CHECK(t.set("a", "two", 0, 0, false) == dict_status::ok);
  CHECK(get(t, "a") == "two");
  CHECK(t.set("a", "x", 0, 0, true) == dict_status::exists);
  CHECK(get(t, "a") == "two");
  CHECK(t.set("b", "", 0, 0, true) == dict_status::ok);
  CHECK(get(t, "b").empty());
  const std::string bin("k\0ey\xff", 5), val("v\0\0al\n", 6);
  CHECK(t.set(bin, val, 0, 0, false) == dict_status::ok);
  CHECK(get(t, bin) == val);
  CHECK(get(t, std::string("k\0ez\xff", 5)) == "<absent>");
  std::string big(200'000, 'x');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  const std::string long_key(hive::shared_dict::max_key_bytes, 'K');
  CHECK(t.set(long_key, big, 0, 0, false) == dict_status::ok);
  CHECK(get(t, long_key) == big);
  CHECK(t.set(long_key + "K", "v", 0, 0, false) == dict_status::too_large);
  CHECK(t.set("huge", std::string(hive::shared_dict::max_value_bytes + 1, 'x'), 0, 0, false) ==
        dict_status::too_large);
  CHECK(t.erase("a", 0));
  CHECK_FALSE(t.erase("a", 0));
  CHECK(get(t, "a") == "<absent>");
  CHECK(t.stats().keys == 3);
}

TEST_CASE("shared dict table: thousands of keys in shared buckets all found; erasing half keeps the rest") {
  table_memory m(4 << 20);
  dict_table& t = *m.t;
  const int n = 10000;
  for (int i = 0; i < n; ++i) REQUIRE(t.set(name("key:", i), name("value ", i), 0, 0, false) == dict_status::ok);
  CHECK(t.stats().keys == n);
  CHECK(t.stats().evictions == 0);
  for (int i = 0; i < n; i += 2) CHECK(t.erase(name("key:", i), 0));
  int found = 0;
  for (int i = 0; i < n; ++i) {
    const std::string v = get(t, name("key:", i));
    if (i % 2 == 0) {
      CHECK(v == "<absent>");
    } else if (v == name("value ", i)) {
      ++found;
    }
  }
  CHECK(found == n / 2);
  CHECK(t.stats().keys == n / 2);
}

TEST_CASE("shared dict table: TTL by the injected clock; expire sets or clears it") {
  table_memory m(64 << 10);
  dict_table& t = *m.t;
  CHECK(t.set("s", "v", 100, 1000, false) == dict_status::ok);
  CHECK(get(t, "s", 1099) == "v");
  CHECK(get(t, "s", 1100) == "<absent>");
  CHECK(t.stats().expirations == 1);
  CHECK(t.set("s", "v2", 100, 1000, true) == dict_status::ok);  // add over an expired key... fresh
  CHECK(t.set("s", "v3", 0, 1050, true) == dict_status::exists);
  CHECK(t.set("s", "v4", 0, 1100, true) == dict_status::ok);  // expired at 1100: add succeeds
  CHECK(get(t, "s", 999'999) == "v4");                           // no TTL
  CHECK(t.expire("s", 50, 2000));
  CHECK(get(t, "s", 2049) == "v4");
  CHECK(get(t, "s", 2050) == "<absent>");
  CHECK_FALSE(t.expire("s", 50, 2050));
  CHECK(t.set("p", "v", 10, 0, false) == dict_status::ok);
  CHECK(t.expire("p", 0, 5));  // 0: never expires
  CHECK(get(t, "p", 1'000'000) == "v");
}

TEST_CASE("shared dict table: incr starts at init, keeps its TTL, parses strings, refuses others") {
  table_memory m(64 << 10);
  dict_table& t = *m.t;
  CHECK(t.incr("n", 1, 0, 0, 0).value == 1);
  CHECK(t.incr("n", 5, 100, 0, 0).value == 6);  // init only for an absent key
  CHECK(t.incr("n", -10, 0, 0, 0).value == -4);
  CHECK(get(t, "n") == "-4");
  auto r = t.incr("w", 1, 10, 100, 1000);  // absent: init + delta, expiring at 1100
  CHECK(r.status == dict_status::ok);
  CHECK(r.value == 11);
  CHECK(t.incr("w", 1, 10, 5000, 1050).value == 12);  // the TTL of an existing key is kept
  CHECK(get(t, "w", 1099) == "12");
  CHECK(get(t, "w", 1100) == "<absent>");
  CHECK(t.incr("w", 1, 10, 0, 1100).value == 11);  // expired: starts again
  CHECK(t.set("s", "41", 0, 0, false) == dict_status::ok);
  CHECK(t.incr("s", 1, 0, 0, 0).value == 42);
  CHECK(get(t, "s") == "42");
  CHECK(t.set("bad", "4x", 0, 0, false) == dict_status::ok);
  CHECK(t.incr("bad", 1, 0, 0, 0).status == dict_status::not_integer);
  CHECK(get(t, "bad") == "4x");
  CHECK(t.incr("max", INT64_MAX, 0, 0, 0).value == INT64_MAX);
  CHECK(t.incr("max", 1, 0, 0, 0).status == dict_status::overflow);
  CHECK(get(t, "max") == std::to_string(INT64_MAX));
}

TEST_CASE("shared dict table: incr_at_least steps from max(value, floor), only up to at_most") {
  table_memory m(64 << 10);
  dict_table& t = *m.t;
  constexpr std::int64_t big = INT64_MAX;
  CHECK(t.incr_at_least("tat", 10, 1000, big, 0, 0).value == 1010);  // absent: floor + delta
  CHECK(t.incr_at_least("tat", 10, 1000, big, 0, 0).value == 1020);  // above the floor: plain add
  CHECK(t.incr_at_least("tat", 10, 5000, big, 0, 0).value == 5010);  // below it: from the floor
  // Past at_most: the would-be value comes back and nothing changes.
  auto r = t.incr_at_least("tat", 10, 5000, 5015, 0, 0);
  CHECK(r.status == dict_status::ok);
  CHECK(r.value == 5020);
  CHECK(get(t, "tat") == "5010");
  CHECK(t.incr_at_least("new", 5, 100, 50, 0, 0).value == 105);  // refused: not even created
  CHECK(get(t, "new") == "<absent>");
  CHECK(t.set("s", "3", 0, 0, false) == dict_status::ok);
  CHECK(t.incr_at_least("s", 1, 7, big, 0, 0).value == 8);  // a string value is clamped too
}

TEST_CASE("shared dict table: incr_at_least only lengthens a key's life; incr keeps it") {
  table_memory m(64 << 10);
  dict_table& t = *m.t;
  constexpr std::int64_t big = INT64_MAX;
  CHECK(t.incr_at_least("k", 1, 0, big, 100, 1000).value == 1);  // expires at 1100
  CHECK(t.incr_at_least("k", 1, 0, big, 500, 1000).value == 2);  // now 1500
  CHECK(t.incr_at_least("k", 1, 0, big, 100, 1000).value == 3);  // 1100 is earlier: stays 1500
  CHECK(t.incr("k", 1, 0, 10, 1000).value == 4);                 // incr keeps the TTL
  CHECK(get(t, "k", 1499) == "4");
  CHECK(get(t, "k", 1500) == "<absent>");
  CHECK(t.incr_at_least("n", 1, 0, big, 0, 1000).value == 1);  // ttl 0: never expires
  CHECK(t.incr_at_least("n", 1, 0, big, 10, 1000).value == 2);  // and a TTL cannot shorten that
  CHECK(get(t, "n", 1'000'000) == "2");
}

TEST_CASE("shared dict table: full, it evicts the least recently used and never grows") {
  table_memory m(16 << 10);
  dict_table& t = *m.t;
  const auto cap = t.stats();
  const std::uint64_t total = cap.bytes_free;
  CHECK(total < (16 << 10));
  CHECK(t.set("hot", "keep me", 0, 0, false) == dict_status::ok);
  const std::string val(200, 'v');
  for (int i = 0; i < 500; ++i) {
    REQUIRE(t.set(name("k", i), val, 0, 0, false) == dict_status::ok);
    CHECK(get(t, "hot") == "keep me");  // used after every set: never the least recent
    const auto s = t.stats();
    REQUIRE(s.bytes_used + s.bytes_free == total);
    REQUIRE(s.keys <= s.max_keys);
  }
  const auto s = t.stats();
  CHECK(s.evictions > 400);
  CHECK(get(t, "k499") == val);  // the newest are there, the oldest are gone, in order
  CHECK(get(t, "k0") == "<absent>");
  int present = 0;
  bool gap_then_present = false;
  for (int i = 0; i < 500; ++i) {
    const bool here = get(t, name("k", i)) != "<absent>";
    if (present > 0 && !here) gap_then_present = true;  // a hole after the first survivor
    present += here ? 1 : 0;
  }
  CHECK(present > 5);
  CHECK_FALSE(gap_then_present);
}

TEST_CASE("shared dict table: with eviction off, a full table refuses") {
  table_memory m(16 << 10, false);
  dict_table& t = *m.t;
  int stored = 0;
  dict_status last = dict_status::ok;
  for (int i = 0; i < 500 && last == dict_status::ok; ++i) {
    last = t.set(name("k", i), std::string(200, 'v'), 0, 0, false);
    if (last == dict_status::ok) ++stored;
  }
  CHECK(last == dict_status::no_memory);
  CHECK(stored > 5);
  CHECK(get(t, "k0") == std::string(200, 'v'));
  CHECK(t.stats().evictions == 0);
  // Fill what is left with one-chunk keys; then even a counter finds no room.
  int small = 0;
  while (small < 1000 && t.set(name("s", small), "", 0, 0, false) == dict_status::ok) ++small;
  CHECK(small < 1000);
  CHECK(t.incr("n", 1, 0, 0, 0).status == dict_status::no_memory);
  // A bigger value for a stored key that does not fit is refused, and the old value stays.
  CHECK(t.set("k1", std::string(8000, 'w'), 0, 0, false) == dict_status::no_memory);
  CHECK(get(t, "k1") == std::string(200, 'v'));
  CHECK(t.set("k1", "smaller", 0, 0, false) == dict_status::ok);  // what the old one frees fits
  CHECK(get(t, "k1") == "smaller");
  CHECK(t.erase("k0", 0));
  CHECK(t.incr("n", 1, 0, 0, 0).value == 1);  // room again once a key goes
}

TEST_CASE("shared dict table: a TTL too long to add to the clock never expires; 0 or less neither") {
  table_memory m(1 << 20);
  dict_table& t = *m.t;
  const std::int64_t now = 5'000'000;
  CHECK(t.set("huge", "h", INT64_MAX - 10, now, false) == dict_status::ok);
  CHECK(t.set("neg", "n", -5, now, false) == dict_status::ok);
  CHECK(t.set("short", "s", 100, now, false) == dict_status::ok);
  CHECK(get(t, "huge", now + 1) == "h");
  CHECK(get(t, "neg", now + 1) == "n");
  CHECK(get(t, "huge", INT64_MAX / 2) == "h");
  CHECK(get(t, "short", now + 100) == "<absent>");
  CHECK(t.incr("c", 1, 0, INT64_MAX, now).value == 1);
  CHECK(t.incr("c", 1, 0, 0, now + 10'000).value == 2);
  CHECK(t.expire("short2", INT64_MAX, now) == false);
}

// hive::shared_dict across real processes: forked children hammering one counter, readers that
// must never see a torn value, and children killed with SIGKILL in the middle of an operation
// (inside the lock, by the test hook) after which the next operation goes through promptly.
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "cluster/dict_table.hpp"
#include "cluster/fork_children.hpp"
#include "hive/shared_dict.hpp"

namespace {

using hive_test::in_children;

// "k" + std::to_string(i), which g++ 12 warns about (-Wrestrict, a false positive).
std::string proc_key_name(const char* prefix, long long i) {
  std::string s(prefix);
  s += std::to_string(i);
  return s;
}

// Forks one child that runs `body` with the test hook killing it at `point`; true if SIGKILL ended it.
template <class Body>
bool killed_at(int point, Body body) {
  const pid_t p = ::fork();
  if (p == 0) {
    static int at;
    at = point;
    hive::detail::dict_test_hook = [](int where) {
      if (where == at) ::raise(SIGKILL);
    };
    body();
    ::_exit(0);
  }
  int st = 0;
  ::waitpid(p, &st, 0);
  return WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
}

}  // namespace

TEST_CASE("shared dict: 4 processes x 25,000 incr on one key lose no update") {
  hive::shared_dict d("counters", 1 << 20);
  const int per_child = 25000;
  CHECK(in_children(4, [&](int) {
          for (int k = 0; k < per_child; ++k) {
            if (!d.incr("hits", 1)) return false;
          }
          return true;
        }) == 4);
  CHECK(d.incr("hits", 0).value == 4 * per_child);
  CHECK(d.get("hits") == std::to_string(4 * per_child));
}

TEST_CASE("shared dict: concurrent writers and readers of many keys never see a torn value") {
  hive::shared_dict d("torn", 256 << 10);  // small: eviction runs all along
  // Each value is one letter repeated a length derived from the letter: any mix is detectable.
  const auto value_for = [](int writer, int round) {
    const char c = static_cast<char>('a' + (writer * 7 + round) % 26);
    return std::string(50 + (c - 'a') * 37, c);
  };
  CHECK(in_children(4, [&](int me) {
          std::string out;
          for (int round = 0; round < 3000; ++round) {
            d.set(proc_key_name("key", round % 97), value_for(me, round));
            if (!d.get(proc_key_name("key", (round * 31) % 97), out)) continue;
            if (out.empty()) return false;
            const char c = out[0];
            if (out.size() != static_cast<std::size_t>(50 + (c - 'a') * 37)) return false;
            if (out.find_first_not_of(c) != std::string::npos) return false;
          }
          return true;
        }) == 4);
  const auto s = d.stats();
  CHECK(s.keys <= 97);
  CHECK(s.recoveries == 0);
}

TEST_CASE("shared dict: a process killed while holding the lock leaves it usable and consistent") {
  hive::shared_dict d("crash", 256 << 10);
  for (int i = 0; i < 50; ++i) REQUIRE(d.set(proc_key_name("k", i), proc_key_name("v", i)) == hive::dict_status::ok);
  REQUIRE(d.incr("n", 7).value == 7);
  const auto s0 = d.stats();

  const auto next_op_is_prompt = [&] {
    const auto t0 = std::chrono::steady_clock::now();
    const bool ok = d.incr("n", 1).status == hive::dict_status::ok;
    return ok && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(1);
  };

  SUBCASE("killed mid-insert, chunks taken, entry not yet live: the key is absent, the rest intact") {
    CHECK(killed_at(1, [&] { d.set("new", std::string(500, 'n')); }));
    CHECK(next_op_is_prompt());
    CHECK_FALSE(d.get("new"));
  }
  SUBCASE("killed after the entry went live, before it was linked: the rebuild links it") {
    CHECK(killed_at(2, [&] { d.set("new", std::string(500, 'n')); }));
    CHECK(next_op_is_prompt());
    CHECK(d.get("new") == std::string(500, 'n'));
  }
  SUBCASE("killed mid-erase: the key is gone, its chunks reused") {
    CHECK(killed_at(10, [&] { d.erase("k3"); }));
    CHECK(next_op_is_prompt());
    CHECK_FALSE(d.get("k3"));
  }
  SUBCASE("killed from outside while idle in the lock") {
    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    const pid_t p = ::fork();
    if (p == 0) {
      // Hold the lock through an operation paused by the hook at its first point.
      static int fd;
      fd = ready[1];
      hive::detail::dict_test_hook = [](int) {
        (void)!::write(fd, "x", 1);
        ::pause();
      };
      d.set("held", "x");
      ::_exit(0);
    }
    char c;
    REQUIRE(::read(ready[0], &c, 1) == 1);
    ::kill(p, SIGKILL);
    int st = 0;
    ::waitpid(p, &st, 0);
    ::close(ready[0]);
    ::close(ready[1]);
    CHECK(next_op_is_prompt());
  }
  CHECK(d.stats().recoveries == 1);
  CHECK(d.get("n") == "8");
  for (int i = 0; i < 50; ++i) {
    if (i == 3 && d.get("k3") == std::nullopt) continue;
    CHECK(d.get(proc_key_name("k", i)) == proc_key_name("v", i));
  }
  // Still fully usable: every chunk accounted for, new keys fit.
  const auto s = d.stats();
  CHECK(s.bytes_used + s.bytes_free == s0.bytes_used + s0.bytes_free);
  CHECK(s.keys >= 50);
  for (int i = 0; i < 2000; ++i) REQUIRE(d.set(proc_key_name("after", i), std::string(100, 'a')) == hive::dict_status::ok);
  CHECK(d.get("after1999") == std::string(100, 'a'));
}

TEST_CASE("shared dict: refuses a capacity too small, and is usable in one process") {
  CHECK_THROWS_AS(hive::shared_dict("tiny", 1024), std::invalid_argument);
  hive::shared_dict d("solo", 64 << 10);
  CHECK(d.name() == "solo");
  CHECK(d.capacity() == 64 << 10);
  CHECK(d.set("a", "b", std::chrono::milliseconds(50)) == hive::dict_status::ok);
  CHECK(d.get("a") == "b");
  ::usleep(80'000);
  CHECK_FALSE(d.get("a"));
}

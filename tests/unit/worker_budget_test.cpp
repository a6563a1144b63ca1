// The worker's memory budgets: totals follow what connections report, only growth past a budget
// asks for shedding, and shedding picks the greediest connections (the oldest among equals) and
// no more of them than it takes to get back under 90 %.
#include <doctest/doctest.h>

#include <vector>

#include "net/worker_budget.hpp"

using hive::detail::held_bytes;
using hive::detail::pick_greediest;
using hive::detail::shed_candidate;
using hive::detail::worker_budget;

namespace {
struct conn {
  int id;
};
}  // namespace

TEST_CASE("worker_budget: totals follow each connection's reports, up and down") {
  worker_budget b(1000, 2000);
  held_bytes x, y;
  CHECK_FALSE(b.update(x, {100, 300}));
  CHECK_FALSE(b.update(y, {50, 0}));
  CHECK(x == held_bytes{100, 300});
  CHECK(b.total() == held_bytes{150, 300});
  CHECK_FALSE(b.update(x, {20, 1000}));  // input falls, output grows
  CHECK(b.total() == held_bytes{70, 1000});
  CHECK_FALSE(b.update(x, {}));  // closed
  CHECK_FALSE(b.update(y, {}));
  CHECK(b.total() == held_bytes{});
}

TEST_CASE("worker_budget: growing past either budget asks for shedding; falling never does") {
  worker_budget b(1000, 2000);
  held_bytes x, y;
  CHECK_FALSE(b.update(x, {1000, 0}));  // at the budget is not past it
  CHECK(b.update(y, {1, 0}));
  CHECK(b.over());
  CHECK_FALSE(b.update(y, {0, 0}));  // back at the budget
  CHECK_FALSE(b.over());
  CHECK(b.update(y, {0, 2001}));  // output alone
  CHECK(b.over());
  CHECK_FALSE(b.update(x, {500, 0}));  // a fall, though still over
  CHECK(b.over());
  CHECK(b.target() == held_bytes{900, 1800});
}

TEST_CASE("pick_greediest: the largest first, the oldest among equals, just enough of them") {
  conn c[5] = {{0}, {1}, {2}, {3}, {4}};
  // Oldest first: 0 is the oldest.
  std::vector<shed_candidate<conn>> all = {
      {10, &c[0]}, {500, &c[1]}, {10, &c[2]}, {300, &c[3]}, {500, &c[4]}};
  // 1320 held, down to 900: the older 500 alone brings it to 820.
  auto v = all;
  REQUIRE(pick_greediest(v, 1320, 900) == 1);
  CHECK(v[0].who->id == 1);
  // Down to 100: both 500s, then the 300, then the older of the 10s.
  v = all;
  REQUIRE(pick_greediest(v, 1320, 10) == 4);
  CHECK(v[0].who->id == 1);
  CHECK(v[1].who->id == 4);
  CHECK(v[2].who->id == 3);
  CHECK(v[3].who->id == 0);
  // Already under: none.
  v = all;
  CHECK(pick_greediest(v, 800, 900) == 0);
  // A total the candidates cannot bring down (some holders are not candidates): all of them.
  v = all;
  CHECK(pick_greediest(v, 5000, 0) == 5);
}

TEST_CASE("pick_greediest: slowloris — equal holders are shed oldest first") {
  std::vector<conn> c(100);
  std::vector<shed_candidate<conn>> all;
  for (int i = 0; i < 100; ++i) {
    c[static_cast<std::size_t>(i)].id = i;
    all.push_back({16 * 1024, &c[static_cast<std::size_t>(i)]});
  }
  const std::size_t k = pick_greediest(all, 100 * 16 * 1024, 90 * 16 * 1024);
  REQUIRE(k == 10);
  for (std::size_t i = 0; i < k; ++i) CHECK(all[i].who->id == static_cast<int>(i));
}

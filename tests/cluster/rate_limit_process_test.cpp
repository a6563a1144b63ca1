// hive::filters::rate_limit shared by forked processes, as workers share it: after an idle spell
// every process catches the bucket up at once, and the limit must still hold — neither more
// (each process handing out its own burst) nor a lock-out (each adding the idle gap).
#include <chrono>
#include <thread>

#include <doctest/doctest.h>

#include "cluster/fork_children.hpp"
#include "hive/filters/rate_limit.hpp"
#include "hive/shared_dict.hpp"

TEST_CASE("rate limit across processes: after an idle spell, a burst then the rate, no lock-out") {
  using namespace std::chrono;
  // 1000/s: one request a millisecond, a burst of 100.
  hive::filters::rate_limit_options o;
  o.requests = 1000;
  o.per = seconds(1);
  o.dict_name = "rl-test";
  hive::filters::rate_limit limit(o);
  hive::shared_dict tally("rl-tally", 1 << 20);
  for (int round = 0; round < 3; ++round) {
    // Idle for 400 ms (and 50 ms): the bucket is full again, and the key's time lies 300 ms behind.
    std::this_thread::sleep_for(400ms);
    tally.set("allowed", "0");
    // The children start together, as requests reaching two workers at once after a pause do.
    const auto start = steady_clock::now() + 50ms;
    const auto until = start + 300ms;
    CHECK(hive_test::in_children(4, [&](int) {
            while (steady_clock::now() < start) {
            }
            while (steady_clock::now() < until) {
              if (limit.take("203.0.113.9").allowed) tally.incr("allowed", 1);
            }
            return true;
          }) == 4);
    const auto elapsed_ms = duration_cast<milliseconds>(steady_clock::now() - start).count();
    const auto allowed = tally.incr("allowed", 0).value;
    MESSAGE("round ", round, ": ", allowed, " allowed in ", elapsed_ms, " ms (burst 100 + 1/ms)");
    // The burst and about 300 more. Two processes both adding the idle gap would lock the key out
    // for 400 ms and more: only the burst would get through.
    CHECK(allowed >= 100 + 200);
    CHECK(allowed <= 100 + elapsed_ms + 5);
  }
}

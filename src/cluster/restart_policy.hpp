// When to restart a slot's worker after it died, and when to stop trying. The first crash
// restarts at once; the next ones wait base × 1.5ⁿ, capped. A worker that stayed up a minute
// resets the back-off; one that stayed up min_uptime resets the crash count. More than
// max_restarts crashes in a row, each sooner than min_uptime, give the slot up.
#pragma once

#include <chrono>

namespace hive::detail {

class restart_policy {
 public:
  using ms = std::chrono::milliseconds;
  static constexpr ms base_delay{100};
  static constexpr ms max_delay{15'000};
  static constexpr ms stable_uptime{60'000};

  restart_policy(int max_restarts, ms min_uptime) : max_restarts_(max_restarts), min_uptime_(min_uptime) {}

  struct decision {
    bool give_up = false;
    ms delay{0};
    int quick_crashes = 0;  // in a row, each within min_uptime
  };
  // A worker of this slot died after running `uptime`.
  decision on_crash(ms uptime);

 private:
  int max_restarts_;
  ms min_uptime_;
  int quick_ = 0;
  ms next_delay_{0};
};

}  // namespace hive::detail

#include "cluster/restart_policy.hpp"

#include <algorithm>

namespace hive::detail {

restart_policy::decision restart_policy::on_crash(ms uptime) {
  if (uptime >= stable_uptime) next_delay_ = ms(0);
  if (uptime >= min_uptime_) {
    quick_ = 0;
  } else {
    ++quick_;
  }
  decision d;
  d.quick_crashes = quick_;
  if (quick_ > max_restarts_) {
    d.give_up = true;
    return d;
  }
  d.delay = next_delay_;
  next_delay_ = next_delay_ == ms(0) ? base_delay
                                     : std::min<ms>(max_delay, ms(next_delay_.count() * 3 / 2));
  return d;
}

}  // namespace hive::detail

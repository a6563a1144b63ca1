// The worker's budgets for the memory its clients decide the size of: bytes buffered for requests
// (input buffers, bodies being received) and copied output waiting to be sent. Each connection is
// capped on its own (--max-header-bytes, --max-body, 1 MiB of queued output), but thousands of
// capped connections still add up: these bound their sum. A connection reports what it holds when
// that changed, once per turn of its loop (never per byte); a total past its budget makes the
// worker close the connections holding the most, until the total is back under 90 % of it.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

namespace hive::detail {

// What one connection holds, as it last reported.
struct held_bytes {
  std::size_t input = 0;   // its input buffer and the body it is receiving
  std::size_t output = 0;  // its copied output (the output queue's arena)
  bool operator==(const held_bytes&) const = default;
};

class worker_budget {
 public:
  worker_budget(std::size_t max_input, std::size_t max_output)
      : max_{max_input, max_output} {}

  // A connection that held `was` now holds `now`; `was` becomes `now`. True if it grew and a
  // total is now past its budget: the worker should shed.
  bool update(held_bytes& was, const held_bytes& now) {
    total_.input += now.input - was.input;  // modular: a fall subtracts
    total_.output += now.output - was.output;
    const bool grew = now.input > was.input || now.output > was.output;
    was = now;
    return grew && over();
  }
  bool over() const { return total_.input > max_.input || total_.output > max_.output; }
  const held_bytes& total() const { return total_; }
  const held_bytes& max() const { return max_; }
  // Where shedding stops: 90 % of each budget, so that a worker at its budget does not shed a
  // connection for every few bytes that arrive.
  held_bytes target() const { return {max_.input / 10 * 9, max_.output / 10 * 9}; }

 private:
  held_bytes max_;
  held_bytes total_;
};

// A connection that could be closed, and what closing it frees.
template <class T>
struct shed_candidate {
  std::size_t bytes = 0;
  T* who = nullptr;
};

// Orders `c` (listed oldest first) greediest first, the oldest first among equals (a legitimate
// client finishes its request or reads its answer; the one still holding is the attacker), and
// returns how many from the front must close for `total` to fall to `target`.
template <class T>
std::size_t pick_greediest(std::vector<shed_candidate<T>>& c, std::size_t total,
                          std::size_t target) {
  const auto greedier = [](const auto& a, const auto& b) { return a.bytes > b.bytes; };
  std::stable_sort(c.begin(), c.end(), greedier);
  std::size_t k = 0;
  while (k < c.size() && total > target) total -= std::min(total, c[k++].bytes);
  return k;
}

}  // namespace hive::detail

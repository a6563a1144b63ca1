// Per-worker counters. Each worker writes only its own (relaxed atomics: no ordering is needed
// between counters); the cluster places them in shared memory so anyone can read all slots.
// Outside a cluster each server keeps its own.
#pragma once

#include <atomic>
#include <cstdint>

#include "hive/stats.hpp"

namespace hive::detail {

struct counters {
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> responses[6] = {};  // by status class: [1] 1xx … [5] 5xx
  std::atomic<std::uint64_t> connections_open{0};
  std::atomic<std::uint64_t> connections_total{0};
  std::atomic<std::uint64_t> connections_shed{0};
  std::atomic<std::uint64_t> bytes_in{0};
  std::atomic<std::uint64_t> bytes_out{0};

  void add(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void sub(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) {
    c.store(c.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
  }
  // Adds these counts to `s` (which sums several workers).
  void add_to(hive::stats& s) const {
    constexpr auto r = std::memory_order_relaxed;
    s.requests += requests.load(r);
    for (int i = 0; i < 6; ++i) s.responses[i] += responses[i].load(r);
    s.connections_open += connections_open.load(r);
    s.connections_total += connections_total.load(r);
    s.connections_shed += connections_shed.load(r);
    s.bytes_in += bytes_in.load(r);
    s.bytes_out += bytes_out.load(r);
  }
};

}  // namespace hive::detail

// The cluster's shared memory: an anonymous MAP_SHARED mapping made by the primary before any
// fork, so every worker sees the same pages. Each slot has several cells because during reloads
// old (draining) and new workers of a slot run side by side; a worker writes only its own cell
// (relaxed atomics) and anyone may read all of them.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "hive/stats.hpp"
#include "util/clock.hpp"
#include "util/counters.hpp"

namespace hive::detail {

struct stats_cell {
  counters c;
  std::atomic<std::int64_t> heartbeat_ms{0};  // CLOCK_MONOTONIC, stamped by the worker's loop
  std::atomic<std::int32_t> pid{0};           // the worker writing this cell; 0: none
};

// A serving worker, its replacement and up to two workers still draining from earlier reloads.
inline constexpr int cells_per_slot = 4;

struct stats_slot {
  std::atomic<std::uint64_t> restarts{0};  // written by the primary
  stats_cell cells[cells_per_slot];
  // A cell no live worker writes, or -1.
  int free_cell() const;
};

class shared_stats {
 public:
  explicit shared_stats(int slots);  // throws std::system_error if mmap fails
  ~shared_stats();
  shared_stats(const shared_stats&) = delete;
  shared_stats& operator=(const shared_stats&) = delete;

  stats_slot& slot(int k) { return base_[k]; }
  const stats_slot& slot(int k) const { return base_[k]; }
  // Sums every cell of every slot.
  hive::stats sum() const;

 private:
  stats_slot* base_ = nullptr;
  std::size_t bytes_ = 0;
  int slots_ = 0;
};

}  // namespace hive::detail

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
  // Messages (published, relayed, broadcast, replies) the primary could not queue for this
  // slot's worker because it was not reading fast enough; written by the primary.
  std::atomic<std::uint64_t> messages_dropped{0};
  stats_cell cells[cells_per_slot];
  // A cell no live worker writes, or -1.
  int free_cell() const;
};

// What the primary tells every worker about the whole cluster, for metrics and readiness.
enum class cluster_phase : std::int32_t { starting, running, draining };

struct cluster_board {
  std::atomic<cluster_phase> phase{cluster_phase::starting};
  std::atomic<std::int32_t> slots{0};      // slots not given up
  std::atomic<std::int32_t> listening{0};  // slots whose worker (or replacement) listens
  std::atomic<std::int32_t> given_up{0};
  std::atomic<std::uint64_t> reloads_done{0};
  std::atomic<std::uint64_t> reloads_failed{0};
  // Ready for traffic: running, and every slot not given up listens, and none was given up.
  bool ready() const {
    constexpr auto r = std::memory_order_relaxed;
    return phase.load(r) == cluster_phase::running && given_up.load(r) == 0 &&
           listening.load(r) == slots.load(r);
  }
};

class shared_stats {
 public:
  explicit shared_stats(int slots);  // throws std::system_error if mmap fails
  ~shared_stats();
  shared_stats(const shared_stats&) = delete;
  shared_stats& operator=(const shared_stats&) = delete;

  int slots() const { return slots_; }
  cluster_board& board() { return *board_; }
  const cluster_board& board() const { return *board_; }
  stats_slot& slot(int k) { return base_[k]; }
  const stats_slot& slot(int k) const { return base_[k]; }
  // Sums every cell of every slot.
  hive::stats sum() const;

 private:
  cluster_board* board_ = nullptr;  // first in the mapping, then the slots
  stats_slot* base_ = nullptr;
  std::size_t bytes_ = 0;
  int slots_ = 0;
};

}  // namespace hive::detail

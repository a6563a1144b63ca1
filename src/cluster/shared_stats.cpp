#include "cluster/shared_stats.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <chrono>
#include <new>
#include <system_error>

#include <nlohmann/json.hpp>

namespace hive {

void to_json(nlohmann::json& j, const stats& s) {
  j = nlohmann::json{
      {"requests", s.requests},
      {"responses",
       {{"1xx", s.responses[1]}, {"2xx", s.responses[2]}, {"3xx", s.responses[3]},
        {"4xx", s.responses[4]}, {"5xx", s.responses[5]}}},
      {"connections_open", s.connections_open},
      {"connections_total", s.connections_total},
      {"connections_shed", s.connections_shed},
      {"bytes_in", s.bytes_in},
      {"bytes_out", s.bytes_out},
      {"restarts", s.restarts},
      {"messages_dropped", s.messages_dropped},
      {"workers", s.workers},
  };
}

}  // namespace hive

namespace hive::detail {

static_assert(std::atomic<std::uint64_t>::is_always_lock_free,
              "shared-memory counters need lock-free 64-bit atomics");

// The board takes a whole cache line, so the primary's writes to it never share one with a
// worker's counters.
constexpr std::size_t board_bytes = (sizeof(cluster_board) + 63) / 64 * 64;

shared_stats::shared_stats(int slots)
    : bytes_(board_bytes + sizeof(stats_slot) * static_cast<std::size_t>(slots)), slots_(slots) {
  void* p = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    throw std::system_error(errno, std::system_category(), "hive: cannot map shared stats");
  }
  board_ = new (p) cluster_board();
  base_ = reinterpret_cast<stats_slot*>(static_cast<char*>(p) + board_bytes);
  for (int k = 0; k < slots; ++k) new (&base_[k]) stats_slot();
}

shared_stats::~shared_stats() {
  if (board_ != nullptr) ::munmap(board_, bytes_);
}

int stats_slot::free_cell() const {
  for (int i = 0; i < cells_per_slot; ++i) {
    if (cells[i].pid.load(std::memory_order_relaxed) == 0) return i;
  }
  return -1;
}

hive::stats shared_stats::sum() const {
  constexpr auto r = std::memory_order_relaxed;
  hive::stats s;
  for (int k = 0; k < slots_; ++k) {
    const stats_slot& sl = base_[k];
    s.restarts += sl.restarts.load(r);
    s.messages_dropped += sl.messages_dropped.load(r);
    for (const stats_cell& cell : sl.cells) {
      cell.c.add_to(s);
      if (cell.pid.load(r) > 0) ++s.workers;
    }
  }
  return s;
}

}  // namespace hive::detail

// The one clock hive measures time with: CLOCK_MONOTONIC in milliseconds. It is the same clock in
// every process of the machine, so the primary can compare a worker's heartbeat with its own now.
#pragma once

#include <chrono>
#include <cstdint>

namespace hive::detail {

inline std::int64_t monotonic_ms() {
  // steady_clock is CLOCK_MONOTONIC on Linux.
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace hive::detail

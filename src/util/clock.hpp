// The one clock hive measures time with: CLOCK_MONOTONIC in milliseconds. It is the same clock in
// every process of the machine, so the primary can compare a worker's heartbeat with its own now.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace hive::detail {

inline std::int64_t monotonic_ms() {
  // steady_clock is CLOCK_MONOTONIC on Linux.
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// A duration as a log line says it: "3.2 s".
inline std::string seconds_text(std::chrono::milliseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(d.count()) / 1000.0);
  return buf;
}

}  // namespace hive::detail

// Per-worker counters. Each worker writes only its own (relaxed atomics: no ordering is needed
// between counters); the cluster places them in shared memory so anyone can read all slots.
// Outside a cluster each server keeps its own.
#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>

#include "hive/stats.hpp"

namespace hive::detail {

// Requests by method, as metrics report them: the common methods each, the rest together.
enum class method_class : std::uint8_t { get, head, post, put, del, patch, options, other };
inline constexpr int method_classes = 8;

inline method_class classify_method(std::string_view m) {
  switch (m.size()) {
    case 3:
      if (m == "GET") return method_class::get;
      if (m == "PUT") return method_class::put;
      break;
    case 4:
      if (m == "HEAD") return method_class::head;
      if (m == "POST") return method_class::post;
      break;
    case 5:
      if (m == "PATCH") return method_class::patch;
      break;
    case 6:
      if (m == "DELETE") return method_class::del;
      break;
    case 7:
      if (m == "OPTIONS") return method_class::options;
      break;
    default: break;
  }
  return method_class::other;
}

// The request-duration histogram's fixed upper bounds in milliseconds (Prometheus's default
// buckets from 1 ms); one more bucket past the last holds everything slower (+Inf).
inline constexpr std::int64_t duration_bounds_ms[] = {1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000};
inline constexpr int duration_buckets = sizeof duration_bounds_ms / sizeof duration_bounds_ms[0] + 1;

inline int duration_bucket(std::int64_t ms) {
  int i = 0;
  while (i < duration_buckets - 1 && ms > duration_bounds_ms[i]) ++i;
  return i;
}

struct counters {
  std::atomic<std::uint64_t> responses[6] = {};  // by status class: [1] 1xx … [5] 5xx
  std::atomic<std::uint64_t> connections_open{0};
  std::atomic<std::uint64_t> connections_total{0};
  std::atomic<std::uint64_t> connections_shed{0};
  std::atomic<std::uint64_t> bytes_in{0};
  std::atomic<std::uint64_t> bytes_out{0};
  // File bytes sent with sendfile through kernel TLS (part of bytes_out): shows kTLS at work.
  std::atomic<std::uint64_t> tls_kernel_file_bytes{0};
  // Requests answered by method class (their sum is stats::requests), and for metrics their durations (not cumulative: bucket i holds
  // those above bound i-1 and at most bound i) with the sum in milliseconds.
  std::atomic<std::uint64_t> by_method[method_classes] = {};
  std::atomic<std::uint64_t> duration[duration_buckets] = {};
  std::atomic<std::uint64_t> duration_ms_sum{0};

  void add(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void sub(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) {
    c.store(c.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
  }
  // Adds these counts to `s` (which sums several workers).
  void add_to(hive::stats& s) const {
    constexpr auto r = std::memory_order_relaxed;
    for (const auto& m : by_method) s.requests += m.load(r);
    for (int i = 0; i < 6; ++i) s.responses[i] += responses[i].load(r);
    s.connections_open += connections_open.load(r);
    s.connections_total += connections_total.load(r);
    s.connections_shed += connections_shed.load(r);
    s.bytes_in += bytes_in.load(r);
    s.bytes_out += bytes_out.load(r);
  }
};

}  // namespace hive::detail

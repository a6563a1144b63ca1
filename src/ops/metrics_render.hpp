// The Prometheus text exposition format (0.0.4) of a snapshot of hive's counters: pure, so a
// test can check the text without a cluster. Every series carries a `worker` (slot) label; a
// slot's counters include those of its workers that died or were replaced (their cells keep
// their counts), so no counter ever goes backwards.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "util/counters.hpp"

namespace hive::detail {

// What /proc says about one process (zeros when it could not be read).
struct process_sample {
  std::uint64_t rss_bytes = 0;
  double cpu_seconds = 0;  // user + system
  std::uint64_t open_fds = 0;
};

struct slot_snapshot {
  std::uint64_t requests = 0;
  std::uint64_t responses[6] = {};
  std::uint64_t by_method[method_classes] = {};
  std::uint64_t duration[duration_buckets] = {};  // not cumulative
  std::uint64_t duration_ms_sum = 0;
  std::uint64_t bytes_in = 0, bytes_out = 0;
  std::uint64_t connections_open = 0, connections_total = 0, connections_shed = 0;
  std::uint64_t tls_kernel_file_bytes = 0;
  std::uint64_t restarts = 0;
  std::uint64_t messages_dropped = 0;  // cluster messages for the slot the primary could not queue
  int workers_up = 0;            // live processes writing the slot now (2 or more in a reload)
  process_sample process;        // summed over them
  void add(const counters& c);
};

struct metrics_snapshot {
  std::vector<slot_snapshot> slots;
  bool cluster = false;  // the cluster-wide series below mean something
  std::uint64_t reloads_done = 0, reloads_failed = 0;
  int slots_given_up = 0;
  bool ready = false;
};

std::string render_metrics(const metrics_snapshot& m);

// /proc/<pid>/stat and /proc/<pid>/fd.
process_sample sample_process(pid_t pid);

}  // namespace hive::detail

// hive::stats — counters summed over every worker of a cluster, read from shared memory without
// asking anyone: cheap enough for a /stats route on every request. In a single process (hive::serve,
// an embedded hive::server) the same counters are kept for its servers.
//
//   app.get("/stats", [](const hive::request&, hive::response& res) { res.json(hive::worker::stats()); });
#pragma once

#include <cstdint>

#include <nlohmann/json_fwd.hpp>

namespace hive {

struct stats {
  std::uint64_t requests = 0;       // answered (rejected ones too), counted as each response is queued
  std::uint64_t responses[6] = {};  // by status class: [1] 1xx … [5] 5xx; [0] unused
  std::uint64_t connections_open = 0;
  std::uint64_t connections_total = 0;
  std::uint64_t connections_shed = 0;  // closed because the worker was over a memory budget
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t restarts = 0;  // workers the primary started again after a crash or a kill
  // Messages for workers (pub/sub, relays, broadcasts, replies) the primary dropped because the
  // worker did not read them fast enough (hive::worker::messages_dropped: this worker's own).
  std::uint64_t messages_dropped = 0;
  int workers = 0;             // worker processes alive now
};

// {"requests": …, "responses": {"2xx": …}, …}: lets `res.json(stats)` work.
void to_json(nlohmann::json& j, const stats& s);

}  // namespace hive

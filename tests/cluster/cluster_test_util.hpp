// Small helpers shared by the cluster tests.
#pragma once

#include <memory>
#include <set>
#include <string>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "cluster_process.hpp"

namespace hive::test {

// The fixture with 2 workers on an ephemeral loopback port and short timeouts; extra flags after.
inline std::vector<std::string> fixture_args(std::vector<std::string> extra = {}) {
  std::vector<std::string> a{"--host", "127.0.0.1", "--port", "0", "--workers", "2",
                             "--shutdown-timeout", "5s", "--listen-timeout", "3s"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

// A connection to each worker of a 2-worker cluster (fixture_args()), once it listens; the test
// stops here (REQUIRE) if either cannot be reached.
struct both_workers {
  std::uint16_t port = 0;
  std::unique_ptr<client> w0, w1;
};

inline both_workers connect_both(cluster_process& c) {
  both_workers b;
  b.port = c.wait_listening();
  REQUIRE(b.port != 0);
  b.w0 = connect_to_slot(b.port, 0);
  b.w1 = connect_to_slot(b.port, 1);
  REQUIRE(b.w0);
  REQUIRE(b.w1);
  return b;
}

struct who {
  int pid = 0;
  int slot = -1;
};

inline who who_answered(const http_result& r) {
  if (!r.ok || r.res.status != 200) return {};
  const auto j = nlohmann::json::parse(r.res.body, nullptr, false);
  if (!j.is_object()) return {};
  return {j.value("pid", 0), j.value("slot", -1)};
}

// The pid serving each slot, from fresh connections; {} for a slot not seen in `tries`.
inline std::map<int, int> pids_by_slot(std::uint16_t port, int tries = 100) {
  std::map<int, int> out;
  for (int i = 0; i < tries && out.size() < 2; ++i) {
    const who w = who_answered(http_get(port, "/pid"));
    if (w.slot >= 0) out[w.slot] = w.pid;
  }
  return out;
}

}  // namespace hive::test

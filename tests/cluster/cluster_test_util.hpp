// Small helpers shared by the cluster tests.
#pragma once

#include <set>
#include <string>

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

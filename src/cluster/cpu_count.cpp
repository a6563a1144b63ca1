#include "cluster/cpu_count.hpp"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>
#include <string>

namespace hive::detail {

namespace {

int affinity_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  const long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

// The cgroup v2 path of this process ("0::/a/b" in /proc/self/cgroup), or empty.
std::string cgroup_v2_path() {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("0::", 0) == 0) return line.substr(3);
  }
  return {};
}

// The tightest quota on the way from this cgroup up to the root: any level can limit us.
std::optional<int> quota_cpus() {
  std::string path = cgroup_v2_path();
  if (path.empty()) return std::nullopt;
  std::optional<int> best;
  for (;;) {
    std::ifstream in("/sys/fs/cgroup" + path + "/cpu.max");
    std::string text;
    if (in && std::getline(in, text)) {
      if (auto n = cpus_from_cpu_max(text); n && (!best || *n < *best)) best = n;
    }
    if (path.empty() || path == "/") break;
    const auto slash = path.rfind('/');
    path = slash == std::string::npos || slash == 0 ? std::string() : path.substr(0, slash);
  }
  return best;
}

}  // namespace

std::optional<int> cpus_from_cpu_max(std::string_view text) {
  std::istringstream in{std::string(text)};
  std::string quota_s;
  long long period = 0;
  if (!(in >> quota_s >> period) || quota_s == "max" || period <= 0) return std::nullopt;
  long long quota = 0;
  const auto r = std::from_chars(quota_s.data(), quota_s.data() + quota_s.size(), quota);
  if (r.ec != std::errc() || quota <= 0) return std::nullopt;
  return static_cast<int>(std::max<long long>(1, (quota + period - 1) / period));
}

int usable_cpus() {
  int n = affinity_cpus();
  if (auto q = quota_cpus()) n = std::min(n, *q);
  return std::max(1, n);
}

}  // namespace hive::detail

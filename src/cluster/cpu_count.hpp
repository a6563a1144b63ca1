// How many CPUs this process may use: the affinity mask (taskset, cpusets) and the cgroup v2
// CPU quota (a container's --cpus), whichever is smaller. The default worker count.
#pragma once

#include <optional>
#include <string_view>

namespace hive::detail {

int usable_cpus();

// "150000 100000" → 2 (rounded up); "max 100000" → nullopt. For tests.
std::optional<int> cpus_from_cpu_max(std::string_view cpu_max);

}  // namespace hive::detail

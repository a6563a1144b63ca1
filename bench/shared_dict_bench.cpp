// hive::shared_dict against an in-process std::unordered_map: get hits and incr on a few
// thousand keys, from one process and from two processes at once (each its own core if the
// machine has two free). Not run by the test suite; see bench/README.md.
//
//   build/bench/shared_dict_bench [seconds per run, default 2]
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unordered_map>
#include <vector>

#include <hive/shared_dict.hpp>

namespace {

using steady = std::chrono::steady_clock;
constexpr int nkeys = 4096;

std::vector<std::string> make_keys() {
  std::vector<std::string> k;
  for (int i = 0; i < nkeys; ++i) k.push_back("user:" + std::to_string(i * 7919));
  return k;
}

// Runs `op(i)` for `seconds`, returns operations per second.
template <class Op>
double rate(double seconds, Op op) {
  const auto end = steady::now() + std::chrono::duration<double>(seconds);
  std::uint64_t n = 0;
  while (steady::now() < end) {
    for (int i = 0; i < 1024; ++i) op(n++);
  }
  return static_cast<double>(n) / seconds;
}

// The same run in `procs` forked processes at once; the sum of their rates.
template <class Op>
double rate_in(int procs, double seconds, Op op) {
  auto* out = static_cast<double*>(::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  std::vector<pid_t> pids;
  for (int p = 0; p < procs; ++p) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      out[p] = rate(seconds, op);
      ::_exit(0);
    }
    pids.push_back(pid);
  }
  double sum = 0;
  for (int p = 0; p < procs; ++p) {
    ::waitpid(pids[p], nullptr, 0);
    sum += out[p];
  }
  ::munmap(out, 4096);
  return sum;
}

}  // namespace

int main(int argc, char** argv) {
  const double secs = argc > 1 ? std::atof(argv[1]) : 2.0;
  const auto keys = make_keys();
  hive::shared_dict d("bench", 64 << 20);
  std::unordered_map<std::string, std::string> map;
  for (const auto& k : keys) {
    d.set(k, "a value of some thirty-two bytes");
    map[k] = "a value of some thirty-two bytes";
  }
  std::string out;
  volatile std::size_t sink = 0;
  const auto dict_get = [&](std::uint64_t i) {
    d.get(keys[i % nkeys], out);
    sink = sink + out.size();
  };
  std::vector<std::string> counters;
  for (int i = 0; i < 64; ++i) counters.push_back("hits:" + std::to_string(i));
  const auto dict_incr = [&](std::uint64_t i) { d.incr(counters[i % 64], 1); };
  const auto map_get = [&](std::uint64_t i) {
    auto it = map.find(keys[i % nkeys]);
    out.assign(it->second);  // a copy out, as shared_dict::get(key, out) makes
    sink = sink + out.size();
  };
  std::printf("%-44s %14s\n", "operation", "ops/s");
  std::printf("%-44s %14.0f\n", "unordered_map find + copy, 1 process", rate(secs, map_get));
  std::printf("%-44s %14.0f\n", "shared_dict get (hit), 1 process", rate_in(1, secs, dict_get));
  std::printf("%-44s %14.0f\n", "shared_dict get (hit), 2 processes (sum)", rate_in(2, secs, dict_get));
  std::printf("%-44s %14.0f\n", "shared_dict incr, 1 process", rate_in(1, secs, dict_incr));
  std::printf("%-44s %14.0f\n", "shared_dict incr, 2 processes (sum)", rate_in(2, secs, dict_incr));
  const auto s = d.stats();
  std::printf("keys %llu, recoveries %llu\n", static_cast<unsigned long long>(s.keys),
              static_cast<unsigned long long>(s.recoveries));
  return 0;
}

// Forked children for the tests of memory shared across processes (shared_dict, rate_limit).
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <vector>

namespace hive_test {

// Forks `n` children running `body(i)`; each exits 0 if body returns true. Returns how many did.
template <class Body>
int in_children(int n, Body body) {
  std::vector<pid_t> pids;
  for (int i = 0; i < n; ++i) {
    const pid_t p = ::fork();
    if (p == 0) ::_exit(body(i) ? 0 : 1);
    pids.push_back(p);
  }
  int ok = 0;
  for (pid_t p : pids) {
    int st = 0;
    ::waitpid(p, &st, 0);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) ++ok;
  }
  return ok;
}

}  // namespace hive_test

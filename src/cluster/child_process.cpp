#include "cluster/child_process.hpp"

#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

namespace hive::detail {

sigset_t block_signals() {
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_BLOCK, &all, &old);
  return old;
}

void restore_signals(const sigset_t& old) { ::pthread_sigmask(SIG_SETMASK, &old, nullptr); }

int reset_child_signals() {
  struct sigaction sa {};
  sigemptyset(&sa.sa_mask);
  sa.sa_handler = SIG_DFL;
  for (int sig : {SIGTERM, SIGINT, SIGCHLD, SIGQUIT, SIGUSR1, SIGUSR2}) ::sigaction(sig, &sa, nullptr);
  sa.sa_handler = SIG_IGN;
  for (int sig : {SIGHUP, SIGPIPE}) ::sigaction(sig, &sa, nullptr);
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  ::pthread_sigmask(SIG_SETMASK, &stop, nullptr);
  return ::signalfd(-1, &stop, SFD_NONBLOCK | SFD_CLOEXEC);
}

void close_fds_except(std::initializer_list<int> keep_list) {
  std::vector<int> keep(keep_list);
  std::sort(keep.begin(), keep.end());
  // Close the gaps between the kept descriptors; close_range makes it one call per gap.
  unsigned lo = 3;
  for (int k : keep) {
    if (k < 0 || static_cast<unsigned>(k) < lo) continue;
    if (static_cast<unsigned>(k) > lo) ::close_range(lo, static_cast<unsigned>(k) - 1, 0);
    lo = static_cast<unsigned>(k) + 1;
  }
  ::close_range(lo, ~0u, 0);
}

}  // namespace hive::detail

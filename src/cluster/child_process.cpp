#include "cluster/child_process.hpp"

#include <dirent.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
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
  bool ok = true;
  for (int k : keep) {
    if (k < 0 || static_cast<unsigned>(k) < lo) continue;
    if (static_cast<unsigned>(k) > lo) ok = ::close_range(lo, static_cast<unsigned>(k) - 1, 0) == 0 && ok;
    lo = static_cast<unsigned>(k) + 1;
  }
  ok = ::close_range(lo, ~0u, 0) == 0 && ok;
  if (ok) return;
  // No close_range (kernels before 5.9, some seccomp profiles): close what /proc lists.
  std::vector<int> open;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    const int own = ::dirfd(d);
    while (const dirent* e = ::readdir(d)) {
      const int fd = std::atoi(e->d_name);
      if (fd > 2 && fd != own && !std::binary_search(keep.begin(), keep.end(), fd)) open.push_back(fd);
    }
    ::closedir(d);
  }
  for (int fd : open) ::close(fd);
}

namespace {
volatile sig_atomic_t grace_s = 1;
volatile sig_atomic_t primary_pid = 0;
// Only the kernel's parent-death signal counts: a SIGUSR2 an operator sends while the primary
// lives changes nothing (getppid and alarm are async-signal-safe).
void on_primary_gone(int) {
  if (::getppid() != static_cast<pid_t>(primary_pid)) ::alarm(static_cast<unsigned>(grace_s));
}
}  // namespace

void die_with_primary(pid_t primary, unsigned grace_seconds) {
  // A worker whose primary is gone drains on its own when the channel reaches EOF; one stuck in a
  // busy loop never reads it. The kernel signals the orphan instead, and SIGALRM, left at its
  // default action, ends it after the grace whatever its loop is doing.
  grace_s = static_cast<sig_atomic_t>(std::max(1u, grace_seconds));
  primary_pid = static_cast<sig_atomic_t>(primary);
  struct sigaction sa {};
  sigemptyset(&sa.sa_mask);
  // SIGALRM must end the process: whatever the primary's launcher or libraries did with it.
  sa.sa_handler = SIG_DFL;
  ::sigaction(SIGALRM, &sa, nullptr);
  sigset_t alrm;
  sigemptyset(&alrm);
  sigaddset(&alrm, SIGALRM);
  sigaddset(&alrm, SIGUSR2);
  ::pthread_sigmask(SIG_UNBLOCK, &alrm, nullptr);
  sa.sa_handler = &on_primary_gone;
  ::sigaction(SIGUSR2, &sa, nullptr);
  ::prctl(PR_SET_PDEATHSIG, SIGUSR2);
  on_primary_gone(SIGUSR2);  // the primary may have died before prctl
}

}  // namespace hive::detail

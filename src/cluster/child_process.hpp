// What a forked worker does before it runs anything else, and what the primary does around fork
// so a signal cannot reach the child while it still has the primary's handlers.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <initializer_list>

namespace hive::detail {

// Blocks every signal; returns the previous mask for restore_signals.
sigset_t block_signals();
void restore_signals(const sigset_t& old);

// In the child: default dispositions for what the primary handled, SIGHUP ignored (reloading is
// the primary's job), SIGTERM and SIGINT blocked and returned as a signalfd (non-blocking): a
// worker drains on them, since systemd and a terminal's Ctrl-C signal every process of the group.
int reset_child_signals();

// In the child: closes every descriptor but stdin, stdout, stderr and `keep` — the other slots'
// listeners, the other workers' channels, the primary's event loop.
void close_fds_except(std::initializer_list<int> keep);

// In the child, after reset_child_signals: if `primary` dies, this process ends `grace_seconds`
// later even if its event loop is stuck (PR_SET_PDEATHSIG with SIGUSR2, then SIGALRM).
void die_with_primary(pid_t primary, unsigned grace_seconds);

}  // namespace hive::detail

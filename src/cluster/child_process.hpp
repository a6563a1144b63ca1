// What a forked worker does before it runs anything else, and what the primary does around fork
// so a signal cannot reach the child while it still has the primary's handlers.
#pragma once

#include <signal.h>

#include <initializer_list>

namespace hive::detail {

// Blocks every signal; returns the previous mask for restore_signals.
sigset_t block_signals();
void restore_signals(const sigset_t& old);

// In the child: default dispositions for what the primary handled, SIGINT and SIGHUP ignored (a
// terminal's Ctrl-C reaches the whole process group; the primary decides), every signal unblocked.
void reset_child_signals();

// In the child: closes every descriptor but stdin, stdout, stderr and `keep` — the other slots'
// listeners, the other workers' channels, the primary's event loop.
void close_fds_except(std::initializer_list<int> keep);

}  // namespace hive::detail

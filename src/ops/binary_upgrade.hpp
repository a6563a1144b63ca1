// Binary upgrade (SIGUSR2 to the primary): the primary starts the program on disk again as a new
// primary, with the same arguments and environment, and hands it the listening sockets — kept
// open across exec and named in $HIVE_LISTEN_FDS ("3,4"), as nginx names its own in $NGINX.
// The new primary adopts them (no bind, so the single-instance check does not refuse it), starts
// its workers, and once every slot listens writes one byte to the pipe named by
// $HIVE_UPGRADE_READY_FD. The old primary then drains its workers and exits; end of file on the
// pipe without that byte, or nothing within --listen-timeout, and the old one stops the new one
// and keeps serving.
//
// Why a pipe rather than a signal back: end of file says "the new one died or never started" with
// no pid to check (a pid can be reused; a signal can come from anyone), and only a process that
// was handed the descriptor can say "ready".
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace hive::detail {

// What to start again: resolved once at start-up, while the file that is running is still the
// one on disk.
struct own_program {
  std::string path;               // absolute; "" if it could not be found
  std::vector<std::string> argv;  // as this process was started (/proc/self/cmdline)
};

// argv[0] made absolute (against the working directory at start, or looked up in $PATH) when it
// names the file this process runs (same device and inode as /proc/self/exe), else
// /proc/self/exe's target. argv[0] first because it keeps symbolic links unresolved: a deploy
// that switches /srv/app/current to a new release directory upgrades to the new release, where
// /proc/self/exe would name the old one. Either way it is kept as a path: once the file is
// replaced, /proc/self/exe reads "/path (deleted)".
own_program find_own_program();

struct started_program {
  pid_t pid = -1;
  int ready_fd = -1;  // the pipe's read end (close-on-exec, ours to close)
};

// Forks and execs `prog` with this process's environment minus hive's hand-over variables, plus
// `extra_env` ("NAME=value") and the hand-over variables for `listen_fds` and the pipe. Only
// async-signal-safe calls run in the child between fork and exec. Throws std::system_error when
// pipe or fork fails; an exec that fails is an exit code 127 and end of file on the pipe.
started_program start_program(const own_program& prog, const std::vector<int>& listen_fds,
                              const std::vector<std::string>& extra_env);

// In the new primary: the listeners the old one handed over and the pipe to tell it "ready"
// (-1 and empty when this is no upgrade). Reads and unsets the variables; checks each descriptor
// is a listening TCP socket (std::runtime_error otherwise, which ends the new primary: the old
// one keeps serving).
struct inherited_listeners {
  std::vector<int> fds;
  int ready_fd = -1;
};
inherited_listeners take_inherited_listeners();

// Writes the byte and closes `ready_fd` (set to -1). False if the old primary is gone.
bool report_ready(int& ready_fd);

}  // namespace hive::detail

// The life of a worker process, from the moment fork returns 0 in it: set up a fresh event loop,
// announce itself, run the application's start hooks, serve the inherited listener, stamp the
// heartbeat on every tick, answer the primary's messages, drain when told to stop.
#pragma once

#include <sys/types.h>

#include <functional>
#include <vector>

#include "app/serve.hpp"
#include "hive/app.hpp"
#include "hive/options.hpp"
#include "net/tls_context.hpp"
#include "ops/privileges.hpp"

namespace hive::detail {

class shared_stats;

struct worker_launch {
  const app* a = nullptr;
  const options* opts = nullptr;
  int slot = 0;
  int count = 1;
  int cell = 0;        // which of the slot's stats cells is ours
  int listen_fd = -1;  // the slot's listener, inherited
  int channel_fd = -1; // our end of the channel to the primary
  int signal_fd = -1;  // SIGTERM and SIGINT (set in the child)
  pid_t primary_pid = 0;
  shared_stats* stats = nullptr;
  const worker_hooks* hooks = nullptr;
  const ticket_keys* tickets = nullptr;  // the cluster's session-ticket keys, with TLS
  const privilege_drop* drop = nullptr;  // --user/--group, done before the app's start hooks
};

// Never returns: the process exits with 0 after a stop, 1 if it could not start.
[[noreturn]] void worker_main(const worker_launch& launch);

}  // namespace hive::detail

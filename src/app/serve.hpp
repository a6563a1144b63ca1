// The application's hooks around a worker's life, and hive::serve running them: `hive::cluster`
// with `--workers 0` serves in this process through it.
#pragma once

#include <functional>
#include <vector>

#include "hive/app.hpp"
#include "hive/options.hpp"

namespace hive::detail {

struct worker_hooks {
  // Once the worker's server exists (hive::worker::io() works in them) and before it listens.
  std::vector<std::function<void()>> start;
  // On the worker's loop once its drain is over, before it exits.
  std::vector<std::function<void()>> stop;
};

// Runs every stop hook; one that throws is logged and the next still runs.
void run_stop_hooks(const worker_hooks& hooks);

int serve(const app& a, const options& opts, const worker_hooks& hooks);

}  // namespace hive::detail

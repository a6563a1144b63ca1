// hive::serve with a cluster's worker hooks: `hive::cluster` with `--workers 0` serves in this
// process through it. Start hooks run once the server exists (hive::worker::io() works in them)
// and before it listens.
#pragma once

#include <functional>
#include <vector>

#include "hive/app.hpp"
#include "hive/options.hpp"

namespace hive::detail {

struct worker_hooks {
  std::vector<std::function<void()>> start;
};

int serve(const app& a, const options& opts, const worker_hooks& hooks);

}  // namespace hive::detail

// What hive::worker's functions reach for inside a worker process. Set by the worker runtime for
// the life of the worker; null in the primary and in a single-process server.
#pragma once

#include <functional>

#include <asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "cluster/ipc_channel.hpp"
#include "cluster/shared_stats.hpp"

namespace hive::detail {

struct worker_context {
  asio::io_context* io = nullptr;
  ipc_channel* channel = nullptr;
  shared_stats* stats = nullptr;
  int slot = 0;
  int count = 1;
  std::function<void(const nlohmann::json&, int)> on_message;
};

// This process's worker context, or null.
worker_context*& current_worker();

}  // namespace hive::detail

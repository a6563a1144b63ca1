// What hive::worker's functions reach for. In a cluster worker: the worker context the runtime
// set up for the life of the worker. Elsewhere (hive::serve, `--workers 0`, an embedded
// hive::server): the hive::servers alive in this process, each registered for its life.
#pragma once

#include <functional>

#include <asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "cluster/ipc_channel.hpp"
#include "cluster/shared_stats.hpp"

namespace hive::detail {

class server_core;

struct worker_context {
  asio::io_context* io = nullptr;
  ipc_channel* channel = nullptr;
  shared_stats* stats = nullptr;
  int slot = 0;
  int count = 1;
  std::function<void(const nlohmann::json&, int)> on_message;
};

// This process's worker context, or null (the primary, a single process, an embedding program).
worker_context*& current_worker();

// hive::server registers its core while it exists (any thread; a mutex guards the list, never
// taken on the request path).
void add_local_server(server_core* s);
void remove_local_server(server_core* s);

}  // namespace hive::detail

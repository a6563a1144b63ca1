// What hive::worker's functions reach for. In a cluster worker: the worker context the runtime
// set up for the life of the worker. Elsewhere (hive::serve, `--workers 0`, an embedded
// hive::server): the hive::servers alive in this process, each registered for its life.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "cluster/ipc_channel.hpp"
#include "cluster/shared_stats.hpp"
#include "hive/worker.hpp"

namespace hive::detail {

class server_core;

// A request to the primary waiting for its reply or its timeout, whichever comes first.
struct pending_request {
  worker::reply_handler on_reply;
  std::unique_ptr<asio::steady_timer> timer;
};

struct worker_context {
  asio::io_context* io = nullptr;
  ipc_channel* channel = nullptr;
  shared_stats* stats = nullptr;
  int slot = 0;
  int count = 1;
  std::function<void(const nlohmann::json&, int)> on_message;
  std::function<void(const nlohmann::json&, int, worker::reply_fn)> on_request;  // request_worker's answers
  std::uint64_t next_request_id = 1;
  std::map<std::uint64_t, pending_request> pending;
  std::map<std::string, std::vector<std::function<void(const nlohmann::json&)>>, std::less<>> subscriptions;
};

// Ends the pending request `id` (if still pending) and calls its handler; on the worker's loop.
void complete_request(worker_context& w, std::uint64_t id, worker::request_error err, const nlohmann::json& reply);
// Ends every pending request with `err` (the primary is gone).
void fail_requests(worker_context& w, worker::request_error err);

// This process's worker context, or null (the primary, a single process, an embedding program).
worker_context*& current_worker();

// hive::server registers its core while it exists (any thread; a mutex guards the list, never
// taken on the request path).
void add_local_server(server_core* s);
void remove_local_server(server_core* s);
// Calls `f` for each server of this process (under the list's mutex); returns how many.
int for_each_local_server(const std::function<void(const server_core&)>& f);

}  // namespace hive::detail

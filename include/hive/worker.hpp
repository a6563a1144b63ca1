// hive::worker — what application code inside a cluster worker may ask of the cluster: its stable
// slot index, the worker count, messages to and from the primary and other workers, and the
// cluster-wide stats. Call these on the worker's event loop (handlers, on_worker_start, timers).
//
//   cluster.on_worker_start([] {
//     hive::worker::on_message([](const nlohmann::json& msg, int from) { /* on this loop */ });
//     if (hive::worker::slot() == 0) { /* run-once jobs go here */ }
//   });
//   app.get("/hit", [](const hive::request&, hive::response& res) {
//     hive::worker::send({{"hit", hive::worker::slot()}});
//     res.text("ok\n");
//   });
#pragma once

#include <chrono>
#include <functional>

#include <nlohmann/json_fwd.hpp>

#include "hive/stats.hpp"

namespace asio {
class io_context;
}

namespace hive::worker {

// The `from` of a message the primary sent.
inline constexpr int primary = -1;
// Messages larger than this (serialized) are refused by send and dropped on receipt.
inline constexpr std::size_t max_message_bytes = 64 * 1024;

// True in a cluster worker; false in a single process (`--workers 0`, hive::serve).
bool in_cluster();
// This worker's slot, 0 … count()-1; stable across restarts and reloads. 0 outside a cluster.
int slot();
// How many worker slots the cluster has. 1 outside a cluster.
int count();
// How many times the primary has restarted this slot after a crash or a kill.
int restarts();

// To the primary (its `message` event). False, and nothing sent, outside a cluster, when the
// message is larger than max_message_bytes, or when the primary is gone.
bool send(const nlohmann::json& msg);
// To the worker now serving `slot`, relayed by the primary; it arrives with `from` = our slot.
bool send_to(int slot, const nlohmann::json& msg);
// Messages from the primary (`from` = worker::primary) and from other workers (`from` = their
// slot), delivered on this worker's event loop. A later call replaces the handler.
void on_message(std::function<void(const nlohmann::json& msg, int from)> handler);

// This worker's event loop, for timers and deferred responses. Throws std::logic_error outside a
// cluster worker.
asio::io_context& io();

// The counters of every worker, summed (this one included).
hive::stats stats();

}  // namespace hive::worker

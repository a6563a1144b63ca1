// hive::worker — what application code may ask of the worker it runs in: its event loop and its
// counters, and in a cluster its stable slot index, the worker count and messages to and from the
// primary and other workers. The calls are the same however the app runs (hive::run, hive::serve
// or `--workers 0`, an embedded hive::server). Call them on the worker's event loop (handlers,
// on_worker_start, timers).
//
// Outside a cluster, "this worker" is this process: stats() sums every hive::server alive in it,
// and io() is the io_context of the server whose loop runs on the calling thread or, called from
// elsewhere, the one io_context they all share. So two embedded servers on one io_context are one
// worker; servers on several io_contexts (each on its own thread) are told apart by the thread.
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
#include <cstdint>
#include <functional>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "hive/stats.hpp"

namespace asio {
class io_context;
}

namespace hive::worker {

// The `from` of a message the primary sent.
inline constexpr int primary = -1;
// The largest message (serialized as JSON) any call here sends or receives: larger ones are
// refused by the sender (false) and dropped on receipt. Those over 64 KiB travel in pieces and
// are put together again before delivery.
inline constexpr std::size_t max_message_bytes = 16 * 1024 * 1024;

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

// Why a request got no reply.
enum class request_error {
  ok,
  timeout,         // no reply within the timeout (a late one is dropped)
  peer_gone,       // the primary, or the worker asked, went away before replying; or no worker
                   // serves the slot asked
  no_handler,      // the one asked has no on_request handler
  handler_failed,  // its handler threw, or its reply was over max_message_bytes
  not_delivered,   // the worker asked was not reading its messages fast enough: dropped
};
using reply_handler = std::function<void(request_error err, const nlohmann::json& reply)>;

// Asks the primary (its cluster::on_request handler) and calls `on_reply` once, on this worker's
// loop, with its reply or an error; hive numbers, matches and times out the request. False, and
// on_reply never called, outside a cluster, when the message is over max_message_bytes or when
// the primary is gone.
//
//   hive::worker::request({{"get", "config"}}, 500ms, [d = res.defer()](auto err, const auto& reply) mutable {
//     d.finish([&](hive::response& r) {
//       if (err == hive::worker::request_error::ok) r.json(reply); else r.status(504).text("no answer\n");
//     });
//   });
bool request(const nlohmann::json& msg, std::chrono::milliseconds timeout, reply_handler on_reply);

// Asks the worker now serving `slot` (its worker::on_request handler; this worker's own slot
// too), relayed by the primary; the same once-only `on_reply`, ids and timeout as request. A
// worker that exits with the request pending answers peer_gone at once. False, and on_reply
// never called, for a slot out of range, over max_message_bytes, or when the primary is gone.
// Outside a cluster slot 0 is this process: its handler runs on this loop.
//
//   for (int k = 0; k < hive::worker::count(); ++k)
//     hive::worker::request_worker(k, {{"get", "count"}}, 500ms, [](auto err, const auto& reply) { … });
bool request_worker(int slot, const nlohmann::json& msg, std::chrono::milliseconds timeout, reply_handler on_reply);

// Answers request_worker from other workers (and this one): `from` is the asking worker's slot;
// call `reply` once, at once or later on this loop. No reply in time is the asker's timeout;
// throwing answers handler_failed. A later call replaces the handler; set it in on_worker_start.
using reply_fn = std::function<void(const nlohmann::json& reply)>;
void on_request(std::function<void(const nlohmann::json& msg, int from, reply_fn reply)> handler);

// Pub/sub across the cluster. `handler` runs on this worker's loop for every message published
// to `topic` by any worker (this one included) or by cluster::publish, once per subscription and
// in publish order per publisher. A topic this worker never subscribed to costs it nothing: the
// primary forwards only to subscribed workers. A worker that does not read fast enough loses
// messages (the primary queues at most 32 MiB for it: two messages of the largest size); the
// primary counts them (messages_dropped(), stats().messages_dropped) and logs how many, at most
// once a second. Outside a cluster (`--workers 0`, an embedded server) both work within this
// process: handlers run on the loop they subscribed from (or at once if no server exists yet).
void subscribe(const std::string& topic, std::function<void(const nlohmann::json& msg)> handler);
// Drops every handler this worker subscribed for `topic`; the primary stops sending it here.
// Outside a cluster: the handlers subscribed from this loop.
void unsubscribe(const std::string& topic);
// False, nothing sent, over max_message_bytes, for a topic over 65,535 bytes, or when the primary
// is gone. The primary routes it by topic without parsing it; a worker parses it only if it
// subscribed.
bool publish(const std::string& topic, const nlohmann::json& msg);
// Messages for this worker's slot (published, relayed, broadcast, replies) the primary dropped
// because the worker was not reading fast enough, since the cluster started. 0 outside a cluster.
std::uint64_t messages_dropped();

// This worker's event loop, for timers and deferred responses: the cluster worker's, hive::serve's
// or the io_context an embedded hive::server was given. Throws std::logic_error if no hive server
// exists in this process yet, or if servers run on several io_contexts and this thread runs none.
asio::io_context& io();

// In a cluster, the counters of every worker, summed (this one included). Elsewhere, those of
// every hive::server in this process, summed, with `workers` 1 (0 before the first server) and
// `restarts` 0.
hive::stats stats();

}  // namespace hive::worker

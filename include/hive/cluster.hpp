// hive::run and hive::cluster — a primary process that supervises one worker per CPU, each
// serving the app on its own SO_REUSEPORT listener that the primary bound before forking. Workers
// that crash are restarted, hung ones are killed, SIGHUP reloads them one at a time without
// dropping a request, SIGTERM drains them. The API mirrors Node's cluster module.
//
//   return hive::run(app, hive::options::from_args(argc, argv));   // the usual entry point
//
//   hive::cluster cluster(app, opts);                                // or, with events:
//   cluster.on_message([&](hive::worker_handle& w, const nlohmann::json& msg) {
//     cluster.broadcast({{"greeting", msg["greeting"]}});
//   });
//   cluster.on_worker_start([] { hive::worker::on_message(...); });  // runs in each worker
//   cluster.on_worker_stop([] { db.close(); });                       // and as each one stops
//   return cluster.run();
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "hive/app.hpp"
#include "hive/options.hpp"
#include "hive/stats.hpp"
#include "hive/worker.hpp"

namespace asio {
class io_context;
}

namespace hive {

namespace detail {
class primary;
}

// How a worker process ended: `code` if it exited, else the `signal` that killed it.
struct exit_status {
  int code = -1;
  int signal = 0;
};

// The primary's handle on one worker process. Valid from its `fork` event to its `exit` event.
class worker_handle {
 public:
  int id() const { return id_; }      // 1, 2, 3 … in order of fork; never reused
  int slot() const { return slot_; }  // the listener it serves
  pid_t pid() const { return pid_; }
  bool listening() const { return listening_; }
  // To the worker's hive::worker::on_message (from = worker::primary). False if the worker is
  // gone or the message is larger than worker::max_message_bytes.
  bool send(const nlohmann::json& msg);

 private:
  friend class detail::primary;
  worker_handle(detail::primary& p, int id, int slot, pid_t pid)
      : primary_(&p), id_(id), slot_(slot), pid_(pid) {}
  detail::primary* primary_;
  int id_;
  int slot_;
  pid_t pid_;
  bool listening_ = false;
};

class cluster {
 public:
  // `a` must outlive the cluster. Nothing starts before run().
  cluster(const app& a, options opts);
  ~cluster();
  cluster(const cluster&) = delete;
  cluster& operator=(const cluster&) = delete;

  // Events on the primary, each run on the primary's event loop (set them before run()).
  using worker_event = std::function<void(worker_handle&)>;
  cluster& on_fork(worker_event f);
  cluster& on_online(worker_event f);      // the worker process is up
  cluster& on_listening(worker_event f);   // it accepts connections
  cluster& on_disconnect(worker_event f);  // its message channel closed
  cluster& on_exit(std::function<void(worker_handle&, exit_status)> f);
  cluster& on_message(std::function<void(worker_handle&, const nlohmann::json&)> f);
  // Answers hive::worker::request: call `reply` once, now or later on the primary's loop (a
  // timer on io()); a worker that gets no reply in time sees request_error::timeout. A later
  // call replaces the handler. Throwing answers the worker with request_error::handler_failed.
  using reply_fn = std::function<void(const nlohmann::json& reply)>;
  cluster& on_request(std::function<void(worker_handle&, const nlohmann::json& msg, reply_fn reply)> f);
  // Runs in every worker process before it listens: register hive::worker::on_message, open
  // per-worker resources. Throwing fails the worker's start (it exits with status 1).
  cluster& on_worker_start(std::function<void()> f);
  // Runs in every worker process that stops gracefully (SIGTERM or SIGINT, a reload replacing
  // it, its primary gone), on its loop, once the drain is over — its last connection closed, or
  // what is left cut shortly before --shutdown-timeout (a second early, a quarter of it if
  // shorter) — and before it exits: flush files, close databases. Workers leave with _exit(),
  // which runs no destructors and flushes no std::ofstream: this hook is where that work goes.
  // It runs to its end; work it posts to the loop does not run. Not run for a worker that
  // crashes, is killed or failed to start. With --workers 0 it runs when the process stops.
  cluster& on_worker_stop(std::function<void()> f);

  // Binds the listeners, forks the workers and supervises them until SIGTERM/SIGINT or stop().
  // Returns the exit status: 0 after a graceful stop, 1 if the address is in use or every slot
  // was given up. With opts.workers == 0 serves in this process (hive::serve) instead.
  int run();

  // Safe from any thread once run() has started; they take effect on the primary's loop.
  void reload();                              // as SIGHUP: rolling, one slot at a time
  void stop();                                // as SIGTERM: graceful
  void broadcast(const nlohmann::json& msg);  // to every live worker
  // To every hive::worker::subscribe(topic) handler in every worker.
  void publish(const std::string& topic, const nlohmann::json& msg);

  // The primary's event loop, for timers and work on the primary (it runs from run() on; with
  // opts.workers == 0 there is no primary and nothing runs it).
  asio::io_context& io();

  // On the primary's loop only (event handlers): the live workers, in slot order.
  std::vector<worker_handle*> workers();
  // Counters of all workers, from shared memory.
  hive::stats stats() const;

 private:
  std::unique_ptr<detail::primary> primary_;
  const app* app_;
};

// Serves `a` with a cluster of opts.workers workers (-1: one per usable CPU), or in this process
// when opts.workers == 0. Returns the process exit status.
int run(const app& a, const options& opts);

}  // namespace hive

// The primary: binds the slot listeners, forks a worker per slot and supervises them — reaps and
// restarts (restart_policy), kills hung ones (heartbeat), rolls a reload slot by slot, drains on
// SIGTERM — and routes messages. It never accepts a connection. One thread, one event loop.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "app/serve.hpp"
#include "cluster/ipc_channel.hpp"
#include "cluster/log_limit.hpp"
#include "cluster/restart_policy.hpp"
#include "cluster/shared_stats.hpp"
#include "hive/cluster.hpp"
#include "net/tls_context.hpp"
#include "ops/binary_upgrade.hpp"
#include "ops/privileges.hpp"
#include "ops/sd_notify.hpp"

namespace hive::detail {

struct cluster_hooks {
  std::vector<cluster::worker_event> fork, online, listening, disconnect;
  std::vector<std::function<void(worker_handle&, exit_status)>> exit;
  std::vector<std::function<void(worker_handle&, const nlohmann::json&)>> message;
  std::function<void(worker_handle&, const nlohmann::json&, cluster::reply_fn)> request;
  worker_hooks worker;  // run in each worker
};

class primary {
 public:
  primary(const app& a, options opts);
  ~primary();

  cluster_hooks& hooks() { return hooks_; }
  const options& opts() const { return opts_; }
  int run();

  void reload();
  void stop();
  void broadcast(const nlohmann::json& msg);
  // Posts an event (ipc_channel::make_event) to every worker subscribed to its topic.
  void publish(const std::string& topic, const nlohmann::json& msg);
  bool send(const worker_handle& w, const nlohmann::json& msg);
  std::vector<worker_handle*> workers();
  hive::stats stats() const;
  asio::io_context& io() { return io_; }

 private:
  // A worker's part in its slot.
  enum class role {
    serving,      // the slot's worker (or about to be, once listening)
    replacement,  // a reload's new worker, not listening yet
    retiring,     // replaced by a reload; draining
    abandoned,    // a replacement the reload gave up on
  };
  struct proc {
    std::unique_ptr<worker_handle> handle;
    std::unique_ptr<ipc_channel> channel;
    role r = role::serving;
    int cell = 0;
    std::int64_t started_ms = 0;
    bool killed = false;  // we sent SIGKILL
    bool disconnected = false;
    bool reaped = false;  // waited for; on_exit still to run
    std::unique_ptr<asio::steady_timer> kill_timer;
    std::set<std::string, std::less<>> topics;  // pub/sub: what it subscribed to
    std::uint64_t dropped = 0;                  // messages it could not take, not logged yet
    std::int64_t dropped_logged_ms = 0;
    bool recycling = false;  // it said it drains on its own SIGTERM: a clean exit is a recycle
    log_limit relay_log;     // its relays to no one: one line a second
    // request_worker asks relayed to it, not answered yet: (asking pid, id) → when the asker
    // stops waiting (monotonic ms). Answered peer_gone if it exits first.
    std::map<std::pair<pid_t, std::uint64_t>, std::int64_t> asked;
  };
  enum class slot_status { running, restarting, given_up };
  struct slot {
    int listen_fd = -1;
    proc* current = nullptr;
    proc* replacement = nullptr;
    slot_status status = slot_status::running;
    std::unique_ptr<restart_policy> policy;
    std::unique_ptr<asio::steady_timer> restart_timer;
  };
  struct reload_state {
    bool active = false;
    bool again = false;  // a reload was asked for while one ran
    int slot = -1;
    int first_id = 0;       // workers with this id or later were forked after the reload began
    bool awaiting = false;  // `slot`'s own worker, forked before, is still starting: wait for it
    std::unique_ptr<asio::steady_timer> timer;
  };

  // primary.cpp: processes and supervision
  bool spawn(int k, role r);  // false, logged, when the system refused
  void start_serving(int k);
  void wait_signal();
  void maybe_announce();
  // Publishes slots, listening slots and the phase on the shared board (metrics, readiness).
  void update_board();
  // systemd: WATCHDOG=1 every half interval while every slot listens.
  void watchdog_tick();
  void on_signal(int sig);
  void reap();
  void on_exit(pid_t pid, int wait_status);
  void after_crash(int k, proc& p, std::int64_t uptime_ms, const std::string& how);
  void give_up(int k, int crashes);
  void check_heartbeats();
  void kill_worker(proc& p, const std::string& why);
  void begin_stop(const char* why);
  void drain_workers(bool accept);
  void maybe_finish_stop();
  void finish(int status);
  void retire(proc& p);
  std::string who(const proc& p) const;
  void report_handler_error(const std::exception& e);

  // primary_messages.cpp: the channel
  void on_message(proc& p, nlohmann::json&& m);
  void on_listening(proc& p);
  void on_request(proc& p, nlohmann::json&& m);
  // An event, to every worker subscribed to its topic; the same bytes for each. `from`: the
  // publishing worker (null: the primary), for the log.
  void deliver(proc* from, const ipc_channel::bytes& event);
  void on_relay(proc& p, const nlohmann::json& m);
  void on_ask(proc& p, nlohmann::json&& m);
  void on_answer(proc& p, nlohmann::json&& m);
  // Ends every request relayed to `p` with peer_gone (it exited).
  void fail_asked(proc& p);
  void reply_error(pid_t asker, std::uint64_t id, const char* error);
  // Queues `msg` for `to`; a worker not reading fast enough loses it: counted in its slot's
  // shared stats and logged at most once a second. False if not queued.
  bool forward(proc& to, const ipc_channel::bytes& msg);
  bool forward(proc& to, const nlohmann::json& msg) { return forward(to, ipc_channel::serialize(msg)); }
  void on_disconnect(pid_t pid);

  // primary_reload.cpp: rolling reload
  void start_reload(const char* why);
  void reload_next();
  void rotate_ticket_keys_later();
  void reload_listening(proc& p);
  void reload_resume(int k);  // go on from slot k (again), after waiting for its worker
  void abort_reload(const std::string& reason);

  // primary_upgrade.cpp: binary upgrade (SIGUSR2)
  void start_upgrade();
  void upgrade_ready(pid_t pid);
  void upgrade_failed(pid_t pid, const std::string& why);
  // The new primary serves: drain our workers (they stop accepting at once; the new ones share
  // the same sockets) and exit, leaving the pid file to the new one.
  void hand_over(pid_t to);
  // The new primary's side: every slot listens, so tell the old one (and write the pid file).
  void announce_upgraded();
  // SIGCHLD: a new primary that was stopped, or that died while starting.
  void reap_candidates();

  template <class Hooks, class... Args>
  void emit(const Hooks& hooks, Args&&... args) {
    for (const auto& h : hooks) {
      try {
        h(args...);
      } catch (const std::exception& e) {
        report_handler_error(e);
      }
    }
  }

  const app& app_;
  options opts_;
  // Shared by every worker (TLS session resumption on any of them); rotated by the primary.
  ticket_keys* ticket_keys_ = nullptr;
  cluster_hooks hooks_;
  asio::io_context io_{1};
  // After io_: destroyed before it (a timer outliving its io_context calls a destroyed service).
  std::unique_ptr<asio::steady_timer> ticket_timer_;
  std::unique_ptr<asio::signal_set> signals_;
  std::unique_ptr<asio::steady_timer> heartbeat_timer_;
  std::int64_t last_heartbeat_check_ms_ = 0;
  std::unique_ptr<asio::steady_timer> stop_timer_;
  sd_notifier notifier_;  // $NOTIFY_SOCKET, or nothing
  privilege_drop drop_;   // --user/--group, resolved before the first fork
  std::unique_ptr<asio::steady_timer> watchdog_timer_;
  std::unique_ptr<shared_stats> stats_;
  std::vector<slot> slots_;
  std::map<pid_t, std::unique_ptr<proc>> procs_;
  reload_state reload_;
  struct upgrade_state {
    pid_t pid = -1;  // the new primary, until it reports ready or fails
    std::unique_ptr<asio::posix::stream_descriptor> ready;
    std::unique_ptr<asio::steady_timer> timer;
    char byte = 0;
    // New primaries that failed and were stopped: reaped here, SIGKILLed if still there at
    // --shutdown-timeout.
    std::map<pid_t, std::unique_ptr<asio::steady_timer>> stopped;
  };
  upgrade_state upgrade_;
  own_program program_;      // what SIGUSR2 starts
  int upgrade_ready_fd_ = -1;  // this is a new primary: "ready" goes to the old one here
  std::uint16_t port_ = 0;
  int next_id_ = 1;
  bool announced_ = false;  // "listening on" logged once every slot listened
  bool stopping_ = false;
  // A binary upgrade handed over (stopping_ is set too): our workers drain while the new primary
  // serves. The first SIGTERM or SIGINT then only says so; a second one kills (as in a stop).
  enum class handover { none, draining, stop_asked };
  handover handover_ = handover::none;
  bool running_ = false;
  int exit_status_ = 0;
};

}  // namespace hive::detail

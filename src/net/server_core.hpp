// One worker's server: the listener, the connections, the worker-wide buffer pool, Date cache and
// the one coarse timer that drives every connection's deadlines. hive::server is its public face.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include "app/access_log.hpp"
#include "app/app_dispatcher.hpp"
#include "hive/app.hpp"
#include "hive/options.hpp"
#include "http/buffers.hpp"
#include "http/date_cache.hpp"
#include "http/session.hpp"
#include "net/input_buffer.hpp"
#include "net/poller.hpp"
#include "net/tls_context.hpp"
#include "net/worker_budget.hpp"
#include "util/cidr.hpp"
#include "util/counters.hpp"

namespace hive::detail {

class connection;
class listener;

class server_core {
 public:
  server_core(asio::io_context& io, const app& a, const options& opts);
  ~server_core();

  void listen();
  void listen_on(int fd);
  // Runs the worker's loop on this thread until the io_context stops (hive owns the thread).
  void run() { poller_.run(); }
  std::uint16_t port() const;

  // Stops taking new requests: idle connections close now, busy ones after their next response.
  // With `keep_accepting`, new connections are still accepted and answered with
  // `Connection: close` (a cluster worker draining, so its accept queue is not reset).
  void shutdown(std::function<void()> done, bool keep_accepting = false);
  void close();
  std::size_t connection_count() const { return count_; }

  // Where the worker's counters live: its own unless the cluster puts them in shared memory.
  void set_counters(counters* c) {
    stats_ = c;
    dispatcher_.set_counters(c);
  }
  counters& stats() { return *stats_; }
  const counters& stats() const { return *stats_; }
  // Called on every tick of the coarse timer (the cluster's heartbeat).
  void on_tick(std::function<void()> f) { tick_hook_ = std::move(f); }

  // For connections and the listener.
  asio::io_context& io() { return io_; }
  dispatcher& app_side() { return *side_; }
  // Puts another application side in front of connections accepted from now on (a test's, or
  // one that adds protocols); it must outlive them.
  void set_app_side(dispatcher& d) { side_ = &d; }
  const session_config& config() const { return cfg_; }
  const options& opts() const { return opts_; }
  buffer_pool& pool() { return pool_; }
  input_pool& inputs() { return inputs_; }
  poller& poll() { return poller_; }
  // The TLS configuration every new connection speaks, or null for plain HTTP.
  const tls_context* tls() const { return tls_.get(); }
  // Before listen: the cluster's shared session-ticket keys (they must outlive the server).
  // Without them a TLS server makes its own and rotates them itself.
  void set_ticket_keys(const ticket_keys* keys) { ticket_keys_ = keys; }
  // The access log (options::access_log): SIGUSR1 reopens its file; a stopping worker flushes it.
  void reopen_logs();
  void flush_logs();
  // Where a lingering connection reads what it throws away.
  std::span<char> sink() { return {sink_, sizeof sink_}; }
  std::int64_t now_ms() const { return now_ms_; }
  std::int64_t tick_ms() const { return tick_ms_; }
  bool draining() const { return draining_; }
  void adopt(int fd, const address& peer);
  // Posted work (frees, wakes) holds this and does nothing once the server is gone, so a server
  // may be destroyed while its io_context goes on running.
  std::weak_ptr<int> alive() const { return alive_; }
  // Unlinks a closed connection; it is freed at the next safe point, never under its own feet.
  void remove(connection* c);
  // A connection that held `was` (as it last reported) now holds `now`. Past a budget, the
  // connections holding the most are shed at the next safe point (shed()).
  void report_held(held_bytes& was, const held_bytes& now) {
    if (now == was) return;
    if (budget_.update(was, now) && !shed_pending_) schedule_shed();
  }

 private:
  void start_timer();
  void tick();
  void maybe_trim();
  void schedule_shed();
  void shed();
  std::size_t shed_greediest(std::size_t held_bytes::*part);
  void start_listener(asio::ip::tcp::acceptor acceptor);
  void load_tls();
  void open_access_log();
  void free_closed();
  static void before_batch(void* self);
  static void after_batch(void* self);
  void post_free();

  asio::io_context& io_;
  const app& app_;
  const options opts_;  // a copy: the caller's may be a temporary
  cidr_set trusted_;
  app_dispatcher dispatcher_;
  dispatcher* side_ = &dispatcher_;
  session_config cfg_;
  buffer_pool pool_;
  input_pool inputs_;
  worker_budget budget_;
  date_cache date_;
  counters own_stats_;  // counted whether or not anyone reads them: hive::worker::stats() may
  counters* stats_ = &own_stats_;
  asio::steady_timer timer_;
  poller poller_;
  std::vector<connection*> closed_;
  std::unique_ptr<tls_context> tls_;
  const ticket_keys* ticket_keys_ = nullptr;
  struct own_keys_deleter {
    void operator()(ticket_keys* k) const { ticket_keys::destroy(k); }
  };
  std::unique_ptr<ticket_keys, own_keys_deleter> own_keys_;  // no cluster: ours to rotate
  std::int64_t next_rotation_ms_ = 0;
  std::unique_ptr<listener> listener_;
  std::unique_ptr<access_log> log_;  // destroyed before the dispatcher's last use: see ~server_core
  connection* head_ = nullptr;
  std::size_t count_ = 0;
  std::int64_t now_ms_ = 0;
  std::int64_t tick_ms_ = 1000;
  // Giving memory back after a load has gone (maybe_trim).
  std::int64_t next_trim_check_ms_ = 0;
  std::uint64_t bytes_in_at_check_ = 0;
  std::size_t peak_count_ = 0;  // most connections open at once since the last check
  bool active_since_trim_ = false;
  // Shedding connections over a budget (shed).
  bool shed_pending_ = false;
  std::size_t shed_unlogged_ = 0;
  std::int64_t next_shed_log_ms_ = 0;
  bool draining_ = false;
  bool stopped_ = false;
  std::function<void()> drained_;
  std::function<void()> tick_hook_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
  char sink_[4096];
};

}  // namespace hive::detail

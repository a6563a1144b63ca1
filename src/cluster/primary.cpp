#include "cluster/primary.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <system_error>
#include <utility>
#include <vector>

#include "cluster/child_process.hpp"
#include "cluster/cpu_count.hpp"
#include "cluster/slot_listeners.hpp"
#include "net/tls_context.hpp"
#include "net/tls_kernel.hpp"
#include "cluster/worker_runtime.hpp"
#include "ops/pid_file.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"
#include "util/process.hpp"

namespace hive::detail {

namespace {

using std::chrono::milliseconds;

std::string describe(int wait_status) {
  if (WIFEXITED(wait_status)) return "exited with code " + std::to_string(WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) {
    const char* name = ::sigabbrev_np(WTERMSIG(wait_status));
    return std::string("was killed by ") + (name ? std::string("SIG") + name : "signal " + std::to_string(WTERMSIG(wait_status)));
  }
  return "ended";
}

}  // namespace

primary::primary(const app& a, options opts) : app_(a), opts_(std::move(opts)) {}

primary::~primary() {
  for (auto& s : slots_) {
    if (s.listen_fd >= 0) ::close(s.listen_fd);
  }
  ticket_keys::destroy(ticket_keys_);
}

// Every worker reads the shared keys at each handshake, so one write here reaches them all.
void primary::rotate_ticket_keys_later() {
  ticket_timer_->expires_after(opts_.tls_ticket_rotation);
  ticket_timer_->async_wait([this](const asio::error_code& ec) {
    if (ec) return;
    if (ticket_keys_->rotate()) {
      log("session-ticket keys rotated (tickets under the previous keys still resume, once)");
    } else {
      warn("session-ticket keys not rotated: the random source failed");
    }
    rotate_ticket_keys_later();
  });
}

std::string primary::who(const proc& p) const {
  return "worker " + std::to_string(p.handle->pid()) + " (slot " + std::to_string(p.handle->slot()) + ")";
}

void primary::report_handler_error(const std::exception& e) {
  warn("a cluster event handler threw: ", e.what());
}

int primary::run() {
  prepare_process();
  set_log_json(opts_.log_format_kind == options::log_format::json);
  // Checked once here, before any worker exists: a bad certificate or key is one clear message
  // and exit 2, not every worker failing in turn.
  if (const std::string bad = tls_check(opts_); !bad.empty()) {
    log_line(bad);
    return 2;
  }
  if (opts_.tls()) log(kernel_tls_line(opts_.tls_kernel));  // probed here, inherited by workers
  // One set of session-ticket keys for every worker, mapped before any fork: a client resumes
  // on whichever worker its reconnect reaches.
  if (opts_.tls() && (ticket_keys_ = ticket_keys::create()) == nullptr) {
    log_line("hive: cannot make TLS session-ticket keys (no memory or no random source)");
    return 1;
  }
  const int n = opts_.workers < 0 ? usable_cpus() : opts_.workers;
  try {
    drop_ = resolve_privilege_drop(opts_);
  } catch (const std::exception& e) {
    log_line(e.what());
    return 2;
  }
  if (!drop_.active && ::geteuid() == 0) {
    warn("workers run as root; pass --user (and --group) to drop privileges after binding");
  }
  notifier_ = sd_notifier::from_environment();
  program_ = find_own_program();
  slot_listeners ls;
  try {
    const inherited_listeners inherited = take_inherited_listeners();
    upgrade_ready_fd_ = inherited.ready_fd;
    const activated_socket act = take_activated_socket();
    if (!inherited.fds.empty()) {
      ls = adopt_inherited_listeners(io_, opts_, inherited.fds, n);
    } else if (act.fd >= 0) {
      ls = share_activated_socket(act, n);
    } else {
      ls = bind_slot_listeners(io_, opts_, n);
    }
  } catch (const std::exception& e) {
    log_line(e.what());
    return 1;
  }
  port_ = ls.port;
  stats_ = std::make_unique<shared_stats>(n);
  stats_->board().slots.store(n, std::memory_order_relaxed);
  slots_.resize(static_cast<std::size_t>(n));
  for (int k = 0; k < n; ++k) {
    slot& s = slots_[static_cast<std::size_t>(k)];
    s.listen_fd = ls.fds[static_cast<std::size_t>(k)];
    s.policy = std::make_unique<restart_policy>(opts_.max_restarts, opts_.min_uptime);
    s.restart_timer = std::make_unique<asio::steady_timer>(io_);
  }
  reload_.timer = std::make_unique<asio::steady_timer>(io_);
  heartbeat_timer_ = std::make_unique<asio::steady_timer>(io_);
  stop_timer_ = std::make_unique<asio::steady_timer>(io_);
  signals_ = std::make_unique<asio::signal_set>(io_, SIGINT, SIGTERM, SIGHUP);
  signals_->add(SIGCHLD);
  signals_->add(SIGUSR1);
  signals_->add(SIGUSR2);
  wait_signal();

  log("primary running ", n, " workers for ", opts_.host, ':', port_);
  running_ = true;
  for (int k = 0; k < n; ++k) start_serving(k);
  check_heartbeats();
  if (ticket_keys_ != nullptr) {
    ticket_timer_ = std::make_unique<asio::steady_timer>(io_);
    rotate_ticket_keys_later();
  }
  if (notifier_.watchdog_interval().count() > 0) {
    watchdog_timer_ = std::make_unique<asio::steady_timer>(io_);
    watchdog_tick();
  }
  io_.run();
  return exit_status_;
}

void primary::wait_signal() {
  signals_->async_wait([this](const asio::error_code& ec, int sig) {
    if (ec) return;
    on_signal(sig);
    wait_signal();
  });
}

void primary::on_signal(int sig) {
  switch (sig) {
    case SIGCHLD:
      reap();
      reap_candidates();
      break;
    case SIGHUP: start_reload("SIGHUP"); break;
    case SIGUSR2: start_upgrade(); break;
    case SIGINT: begin_stop("SIGINT"); break;
    case SIGTERM: begin_stop("SIGTERM"); break;
    case SIGUSR1:
      // logrotate: every worker (draining ones too: they still log) reopens its access log.
      for (auto& [pid, p] : procs_) {
        if (p->channel) p->channel->send_control({{"t", "reopen-logs"}});
      }
      break;
    default: break;
  }
}

bool primary::spawn(int k, role r) {
  slot& s = slots_[static_cast<std::size_t>(k)];
  stats_slot& ss = stats_->slot(k);
  const int cell = ss.free_cell();
  int fds[2] = {-1, -1};
  try {
    if (cell < 0) throw std::runtime_error("every stats cell of the slot is in use");
    make_channel_pair(fds);
  } catch (const std::exception& e) {
    warn("cannot start a worker for slot ", k, ": ", e.what());
    return false;
  }
  stats_cell& c = ss.cells[cell];
  c.heartbeat_ms.store(monotonic_ms(), std::memory_order_relaxed);
  c.pid.store(-1, std::memory_order_relaxed);  // reserved until fork returns

  worker_launch l;
  l.a = &app_;
  l.opts = &opts_;
  l.slot = k;
  l.count = static_cast<int>(slots_.size());
  l.cell = cell;
  l.listen_fd = s.listen_fd;
  l.channel_fd = fds[1];
  l.primary_pid = ::getpid();
  l.stats = stats_.get();
  l.hooks = &hooks_.worker;
  l.tickets = ticket_keys_;
  l.drop = &drop_;

  // No signal may run the primary's handlers in the child before it resets them.
  const sigset_t old = block_signals();
  const pid_t pid = ::fork();
  if (pid == 0) worker_main(l);
  const int fork_errno = errno;
  restore_signals(old);
  ::close(fds[1]);
  if (pid < 0) {
    ::close(fds[0]);
    c.pid.store(0, std::memory_order_relaxed);
    warn("cannot fork a worker for slot ", k, ": ", std::strerror(fork_errno));
    return false;
  }
  c.pid.store(static_cast<std::int32_t>(pid), std::memory_order_relaxed);

  auto p = std::make_unique<proc>();
  p->handle.reset(new worker_handle(*this, next_id_++, k, pid));
  p->r = r;
  p->cell = cell;
  p->started_ms = monotonic_ms();
  p->channel = std::make_unique<ipc_channel>(io_, fds[0], "worker " + std::to_string(pid));
  proc& ref = *p;
  procs_[pid] = std::move(p);
  ref.channel->on_event([this, pid](const ipc_channel::bytes& e) {
    if (auto it = procs_.find(pid); it != procs_.end()) deliver(it->second.get(), e);
  });
  ref.channel->start(
      [this, pid](nlohmann::json&& m) {
        if (auto it = procs_.find(pid); it != procs_.end()) on_message(*it->second, std::move(m));
      },
      [this, pid] { on_disconnect(pid); });
  if (r == role::serving) {
    s.current = &ref;
    s.status = slot_status::running;
  } else {
    s.replacement = &ref;
  }
  if (r == role::replacement) {
    log("started ", who(ref), " to replace worker ", s.current->handle->pid());
  } else {
    log("started ", who(ref));
  }
  emit(hooks_.fork, *ref.handle);
  return true;
}

// A slot's worker, now or, if the system refuses (no memory, no processes, no descriptors), a
// second later and again until it works: a slot left without a worker would keep its hash share
// of new connections with nobody to accept them.
void primary::start_serving(int k) {
  if (stopping_ || spawn(k, role::serving)) return;
  slot& s = slots_[static_cast<std::size_t>(k)];
  s.status = slot_status::restarting;
  log("slot ", k, ": trying again in 1 s");
  s.restart_timer->expires_after(milliseconds(1000));
  s.restart_timer->async_wait([this, k](const asio::error_code& ec) {
    if (!ec) start_serving(k);
  });
}

void primary::reap() {
  // Only our workers: waitpid(-1) would also take the exit status of a child that user code in
  // the primary started and waits for itself.
  std::vector<std::pair<pid_t, int>> exited;  // on_exit changes procs_: collect first
  for (const auto& [pid, p] : procs_) {
    int st = 0;
    if (::waitpid(pid, &st, WNOHANG) == pid) {
      exited.emplace_back(pid, st);
      p->reaped = true;  // its pid may be reused from now on: never signal it
    }
  }
  for (const auto& [pid, st] : exited) on_exit(pid, st);
}

void primary::on_exit(pid_t pid, int wait_status) {
  auto it = procs_.find(pid);
  if (it == procs_.end()) return;
  std::unique_ptr<proc> owned = std::move(it->second);
  procs_.erase(it);
  proc& p = *owned;
  const int k = p.handle->slot();
  slot& s = slots_[static_cast<std::size_t>(k)];
  stats_cell& c = stats_->slot(k).cells[p.cell];
  c.pid.store(0, std::memory_order_relaxed);
  c.c.connections_open.store(0, std::memory_order_relaxed);  // they died with it

  if (!p.disconnected) {
    p.disconnected = true;
    p.channel->close();
    emit(hooks_.disconnect, *p.handle);
  }
  fail_asked(p);
  exit_status es;
  if (WIFEXITED(wait_status)) es.code = WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) es.signal = WTERMSIG(wait_status);
  emit(hooks_.exit, *p.handle, es);
  if (s.current == &p) s.current = nullptr;
  if (s.replacement == &p) s.replacement = nullptr;
  update_board();

  const std::string how = describe(wait_status);
  const std::int64_t uptime = monotonic_ms() - p.started_ms;
  if (stopping_) {
    log(who(p), ' ', how);
    maybe_finish_stop();
    return;
  }
  switch (p.r) {
    case role::retiring:
      log(who(p), ' ', how, " after draining (replaced by reload)");
      break;
    case role::abandoned:
      log(who(p), ' ', how, " (its reload was aborted)");
      break;
    case role::replacement:
      abort_reload("new " + who(p) + " " + how + " before listening");
      break;
    case role::serving:
      if (s.replacement != nullptr) {
        log(who(p), ' ', how, "; the reload's new worker ", s.replacement->handle->pid(),
            " takes the slot over");
      } else if (p.recycling && es.code == 0) {
        // Sent SIGTERM on its own and drained: an operator recycling it, not a crash. No
        // back-off, not counted towards --max-restarts.
        log(who(p), " exited cleanly after draining (its own SIGTERM: recycled); starting a new one now");
        start_serving(k);
        reload_resume(k);
      } else {
        after_crash(k, p, uptime, how);
        reload_resume(k);  // if the reload waited for this worker: its successor starts anew
      }
      break;
  }
}

void primary::after_crash(int k, proc& p, std::int64_t uptime_ms, const std::string& how) {
  slot& s = slots_[static_cast<std::size_t>(k)];
  const auto d = s.policy->on_crash(milliseconds(uptime_ms));
  const std::string what = who(p) + " " + how + " after " + seconds_text(milliseconds(uptime_ms));
  if (d.give_up) {
    log(what);
    give_up(k, d.quick_crashes);
    return;
  }
  stats_->slot(k).restarts.fetch_add(1, std::memory_order_relaxed);
  s.status = slot_status::restarting;
  if (d.delay.count() == 0) {
    log(what, "; restarting it now");
    start_serving(k);
    return;
  }
  log(what, "; restarting it in ", d.delay.count(), " ms");
  s.restart_timer->expires_after(d.delay);
  s.restart_timer->async_wait([this, k](const asio::error_code& ec) {
    if (!ec) start_serving(k);
  });
}

void primary::give_up(int k, int crashes) {
  slot& s = slots_[static_cast<std::size_t>(k)];
  s.status = slot_status::given_up;
  // A dead slot's listener still gets its hash share of new connections, which would wait for a
  // worker that never comes. Closing it takes the slot out of the reuseport group.
  if (s.listen_fd >= 0) ::close(s.listen_fd);
  s.listen_fd = -1;
  notifier_.notify("STATUS=slot " + std::to_string(k) + " given up (crash loop)");
  log("slot ", k, " given up: its worker died ", crashes, " times in a row, each within --min-uptime ",
      seconds_text(opts_.min_uptime), " (--max-restarts ", opts_.max_restarts,
      "); closed its listener, new connections go to the other slots");
  const bool all = std::all_of(slots_.begin(), slots_.end(),
                               [](const slot& x) { return x.status == slot_status::given_up; });
  if (all) {
    log("every slot was given up; exiting with status 1");
    for (auto& [pid, q] : procs_) {
      if (q->reaped) continue;
      ::kill(pid, SIGKILL);
      // No zombies left to a program that goes on after run(); bounded, as a process stuck in
      // the kernel may take a while to die.
      for (int i = 0; i < 200 && ::waitpid(pid, nullptr, WNOHANG) == 0; ++i) ::usleep(10000);
    }
    finish(1);
    return;
  }
  update_board();
  maybe_announce();
}

void primary::check_heartbeats() {
  const auto interval = std::clamp<milliseconds>(opts_.heartbeat_timeout / 4, milliseconds(50),
                                                 milliseconds(1000));
  const std::int64_t now = monotonic_ms();
  // Checked far later than planned, the primary itself was not running: the whole process group
  // stopped (Ctrl-Z, SIGSTOP, a frozen container). The workers were stopped as well, and on
  // resuming the primary may look before they stamp: give them a round before judging.
  const bool resumed = last_heartbeat_check_ms_ != 0 &&
                       now - last_heartbeat_check_ms_ > interval.count() + opts_.heartbeat_timeout.count() / 2;
  last_heartbeat_check_ms_ = now;
  for (auto& [pid, p] : procs_) {
    if (p->killed || resumed) continue;
    if (!p->handle->listening()) {
      // Start hooks may take a while before the loop runs (and stamps): starting is bounded by
      // --listen-timeout instead, or the heartbeat timeout if that is longer.
      const std::int64_t bound = std::max(opts_.listen_timeout.count(), opts_.heartbeat_timeout.count());
      if (now - p->started_ms > bound) {
        kill_worker(*p, "has not started listening after " +
                            seconds_text(milliseconds(now - p->started_ms)));
      }
      continue;
    }
    const auto stamp =
        stats_->slot(p->handle->slot()).cells[p->cell].heartbeat_ms.load(std::memory_order_relaxed);
    if (now - stamp > opts_.heartbeat_timeout.count()) {
      kill_worker(*p, "has not stamped its heartbeat for " + seconds_text(milliseconds(now - stamp)) +
                          " (--heartbeat-timeout " + seconds_text(opts_.heartbeat_timeout) +
                          "): its event loop is stuck");
    }
  }
  heartbeat_timer_->expires_after(interval);
  heartbeat_timer_->async_wait([this](const asio::error_code& ec) {
    if (!ec) check_heartbeats();
  });
}

void primary::kill_worker(proc& p, const std::string& why) {
  if (p.killed || p.reaped) return;
  p.killed = true;
  log(who(p), ' ', why, "; killing it (SIGKILL)");
  ::kill(p.handle->pid(), SIGKILL);
}

void primary::retire(proc& p) {
  p.r = role::retiring;
  p.channel->send_control({{"t", "stop"}, {"accept", false}});
  p.kill_timer = std::make_unique<asio::steady_timer>(io_);
  p.kill_timer->expires_after(opts_.shutdown_timeout);
  const pid_t pid = p.handle->pid();
  p.kill_timer->async_wait([this, pid](const asio::error_code& ec) {
    if (ec) return;
    if (auto it = procs_.find(pid); it != procs_.end()) {
      kill_worker(*it->second, "did not finish draining within --shutdown-timeout");
    }
  });
}

void primary::begin_stop(const char* why) {
  if (stopping_) {
    switch (handover_) {
      case handover::draining:
        // systemd's stop (the whole cgroup) or a script reaches us too: the drain is already
        // the stop asked for, and killing would cut the requests our workers still finish.
        handover_ = handover::stop_asked;
        log("already draining after an upgrade (", why, "): ", procs_.size(),
            " workers finish what they have; send it again to kill them");
        return;
      case handover::none:
      case handover::stop_asked:
        break;
    }
    log("stopping now (", why, " again): killing ", procs_.size(), " workers");
    for (auto& [pid, p] : procs_) {
      p->killed = true;
      ::kill(pid, SIGKILL);
    }
    return;
  }
  stopping_ = true;
  if (upgrade_.pid > 0) {
    log("stopping: new primary ", upgrade_.pid, " was still starting (SIGUSR2); stopping it too");
    upgrade_failed(upgrade_.pid, "was still starting when this primary was told to stop");
  }
  // Readiness goes 503 now, while the listeners still accept: a load balancer stops sending
  // before anything is refused.
  stats_->board().phase.store(cluster_phase::draining, std::memory_order_relaxed);
  notifier_.notify(std::string("STOPPING=1\nSTATUS=draining (") + why + ")");
  reload_.active = false;
  reload_.again = false;
  reload_.timer->cancel();
  for (auto& s : slots_) {
    s.restart_timer->cancel();
    // The workers hold their own copies: each listener now lives exactly as long as its
    // worker's drain, and nothing is left queued on a socket nobody will accept from.
    if (s.listen_fd >= 0) ::close(s.listen_fd);
    s.listen_fd = -1;
  }
  log("stopping (", why, "): draining ", procs_.size(), " workers, at most ",
      seconds_text(opts_.shutdown_timeout));
  // A new primary stopped before it reported ready (an upgrade rolled back): the old primary's
  // workers still serve the same sockets, so ours close their listeners now and leave the
  // queues to them, instead of taking new connections for a while.
  drain_workers(upgrade_ready_fd_ < 0);
}

// Every worker stops (accepting new connections or not) and finishes what is open; those still
// draining at --shutdown-timeout are killed.
void primary::drain_workers(bool accept) {
  for (auto& [pid, p] : procs_) p->channel->send_control({{"t", "stop"}, {"accept", accept}});
  stop_timer_->expires_after(opts_.shutdown_timeout);
  stop_timer_->async_wait([this](const asio::error_code& ec) {
    if (ec || procs_.empty()) return;
    log("shutdown timeout: killing ", procs_.size(), " workers still draining");
    for (auto& [pid, p] : procs_) {
      p->killed = true;
      ::kill(pid, SIGKILL);
    }
  });
  maybe_finish_stop();
}

void primary::maybe_finish_stop() {
  if (!stopping_ || !procs_.empty()) return;
  log("stopped");
  finish(exit_status_);
}

void primary::finish(int status) {
  exit_status_ = status;
  if (!opts_.pid_file.empty()) remove_pid_file_if_ours(opts_.pid_file);
  if (upgrade_.timer) upgrade_.timer->cancel();
  for (auto& [pid, t] : upgrade_.stopped) t->cancel();
  upgrade_.ready.reset();
  heartbeat_timer_->cancel();
  stop_timer_->cancel();
  reload_.timer->cancel();
  if (ticket_timer_) ticket_timer_->cancel();
  if (watchdog_timer_) watchdog_timer_->cancel();
  for (auto& s : slots_) s.restart_timer->cancel();
  asio::error_code ec;
  signals_->cancel(ec);
  io_.stop();
}

void primary::maybe_announce() {
  if (announced_) return;
  bool any = false;
  for (const auto& s : slots_) {
    if (s.status == slot_status::given_up) continue;
    if (s.current == nullptr || !s.current->handle->listening()) return;
    any = true;
  }
  if (!any) return;
  announced_ = true;
  if (stopping_) return;
  stats_->board().phase.store(cluster_phase::running, std::memory_order_relaxed);
  log("listening on ", opts_.host, ':', port_);
  if (upgrade_ready_fd_ >= 0) {
    announce_upgraded();
    return;
  }
  if (!opts_.pid_file.empty()) write_pid_file(opts_.pid_file);
  notifier_.notify("READY=1\nSTATUS=serving on port " + std::to_string(port_) + " with " +
                   std::to_string(slots_.size()) + " workers");
}

void primary::watchdog_tick() {
  const cluster_board& b = stats_->board();
  const int slots = b.slots.load(std::memory_order_relaxed);
  if (!stopping_ && slots > 0 && b.listening.load(std::memory_order_relaxed) == slots) {
    notifier_.notify("WATCHDOG=1");
  }
  watchdog_timer_->expires_after(notifier_.watchdog_interval() / 2);
  watchdog_timer_->async_wait([this](const asio::error_code& ec) {
    if (!ec) watchdog_tick();
  });
}

void primary::update_board() {
  int live = 0, listening = 0, given_up = 0;
  for (const auto& s : slots_) {
    if (s.status == slot_status::given_up) {
      ++given_up;
      continue;
    }
    ++live;
    const bool cur = s.current != nullptr && s.current->handle->listening();
    const bool rep = s.replacement != nullptr && s.replacement->handle->listening();
    if (cur || rep) ++listening;
  }
  cluster_board& b = stats_->board();
  b.slots.store(live, std::memory_order_relaxed);
  b.listening.store(listening, std::memory_order_relaxed);
  b.given_up.store(given_up, std::memory_order_relaxed);
}

hive::stats primary::stats() const { return stats_ ? stats_->sum() : hive::stats{}; }

}  // namespace hive::detail

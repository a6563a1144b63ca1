#include "cluster/worker_runtime.hpp"

#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <string>

#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>

#include "cluster/child_process.hpp"
#include "cluster/ipc_channel.hpp"
#include "cluster/shared_stats.hpp"
#include "cluster/worker_context.hpp"
#include "net/server_core.hpp"
#include "util/log.hpp"
#include "util/process.hpp"

namespace hive::detail {

namespace {

using std::chrono::milliseconds;

// A draining worker that has had no connection open and none new for this long stops accepting:
// its queue is empty, so closing its copy of the listener resets nobody.
constexpr std::int64_t quiet_ms = 100;
constexpr milliseconds drain_poll{25};
// The primary SIGKILLs a worker still draining at --shutdown-timeout. The worker cuts what is
// left this much earlier (a quarter of the timeout if shorter), so its stop hooks have that long.
constexpr milliseconds stop_hooks_time{1000};

class worker_runtime {
 public:
  explicit worker_runtime(const worker_launch& l)
      : l_(l),
        cell_(l.stats->slot(l.slot).cells[l.cell]),
        channel_(io_, l.channel_fd, "the primary"),
        core_(io_, *l.a, *l.opts),
        drain_timer_(io_),
        deadline_(io_),
        signals_(io_) {
    ctx_.io = &io_;
    ctx_.channel = &channel_;
    ctx_.stats = l.stats;
    ctx_.slot = l.slot;
    ctx_.count = l.count;
    current_worker() = &ctx_;
  }
  ~worker_runtime() {
    ctx_.pending.clear();  // their timers belong to io_
    current_worker() = nullptr;
  }

  int run() {
    cell_.pid.store(static_cast<std::int32_t>(::getpid()), std::memory_order_relaxed);
    stamp();
    channel_.on_event([this](const ipc_channel::bytes& e) { on_event(e); });
    channel_.start([this](nlohmann::json&& m) { on_message(std::move(m)); },
                   [this] {
                     fail_requests(ctx_, worker::request_error::peer_gone);
                     begin_stop(/*keep_accepting=*/true);
                   });
    channel_.send_control({{"t", "online"}});
    if (l_.signal_fd >= 0) {
      signals_.assign(l_.signal_fd);
      wait_signal();
    }
    try {
      for (const auto& hook : l_.hooks->start) hook();
      core_.set_counters(&cell_.c);
      core_.on_tick([this] { stamp(); });
      core_.set_ticket_keys(l_.tickets);
      core_.listen_on(l_.listen_fd);
    } catch (const std::exception& e) {
      log("worker for slot ", l_.slot, " failed to start: ", e.what());
      return 1;
    }
    stamp();  // the start hooks may have taken longer than the heartbeat timeout
    log("worker for slot ", l_.slot, " listening");
    channel_.send_control({{"t", "listening"}, {"port", core_.port()}});
    core_.run();  // one epoll_wait for the connections and Asio's own work
    core_.flush_logs();  // the process ends with _exit: no destructor will
    // The cell stays this worker's until the primary has reaped it: freeing it here would let a
    // new worker for the slot take it while the primary still counts it as this one's.
    return 0;
  }

 private:
  enum class phase { serving, accepting_drain, draining, done };

  // SIGTERM or SIGINT sent to the worker itself (or to its whole process group): drain as if the
  // primary had asked.
  void wait_signal() {
    signals_.async_wait(asio::posix::descriptor_base::wait_read, [this](const asio::error_code& ec) {
      if (ec) return;
      signalfd_siginfo si{};
      while (::read(l_.signal_fd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
      }
      // Told so, the primary takes the clean exit that follows for a recycle, not a crash.
      if (phase_ == phase::serving) channel_.send_control({{"t", "draining"}});
      begin_stop(/*keep_accepting=*/true);
      wait_signal();
    });
  }

  void stamp() { cell_.heartbeat_ms.store(monotonic_ms(), std::memory_order_relaxed); }

  void on_message(nlohmann::json&& m) {
    const std::string& t = m["t"].get_ref<const std::string&>();
    if (t == "stop") {
      const auto accept = m.find("accept");
      begin_stop(accept != m.end() && accept->is_boolean() && accept->get<bool>());
    } else if (t == "message") {
      const auto data = m.find("data");
      const auto from = m.find("from");
      if (data == m.end()) return;
      const int sender = from != m.end() && from->is_number_integer() ? from->get<int>() : -1;
      if (!ctx_.on_message) return;
      try {
        ctx_.on_message(*data, sender);
      } catch (const std::exception& e) {
        warn("a message handler threw: ", e.what());
      }
    } else if (t == "reply") {
      on_reply(m);
    } else if (t == "asked") {
      on_asked(std::move(m));
    } else if (t == "reopen-logs") {
      core_.reopen_logs();
    } else if (t == "ping") {
      channel_.send({{"t", "pong"}});
    } else {
      warn("dropped a message of unknown type '", t, "' from the primary");
    }
  }

  // A published message: parsed only if this worker subscribed to its topic.
  void on_event(const ipc_channel::bytes& e) {
    std::string_view topic, json;
    if (!ipc_channel::read_event(*e, topic, json)) {
      warn("dropped a malformed event from the primary");
      return;
    }
    const auto it = ctx_.subscriptions.find(topic);
    if (it == ctx_.subscriptions.end()) return;
    const auto data = nlohmann::json::parse(json, nullptr, false);
    if (data.is_discarded()) {
      warn("dropped an event on '", topic, "' that is not JSON");
      return;
    }
    const auto handlers = it->second;  // a handler may subscribe again
    for (const auto& h : handlers) {
      try {
        h(data);
      } catch (const std::exception& e) {
        warn("a subscription handler threw: ", e.what());
      }
    }
  }

  void on_reply(const nlohmann::json& m) {
    const auto id = m.find("id");
    if (id == m.end() || !id->is_number_unsigned()) return;
    const auto data = m.find("data");
    const auto error = m.find("error");
    if (data != m.end()) return complete_request(ctx_, id->get<std::uint64_t>(), worker::request_error::ok, *data);
    const std::string why = error != m.end() && error->is_string() ? error->get<std::string>() : "";
    complete_request(ctx_, id->get<std::uint64_t>(), request_error_named(why), nullptr);
  }

  static worker::request_error request_error_named(const std::string& why) {
    using e = worker::request_error;
    if (why == "no_handler") return e::no_handler;
    if (why == "peer_gone") return e::peer_gone;
    if (why == "not_delivered") return e::not_delivered;
    return e::handler_failed;
  }

  // Another worker's request_worker, relayed by the primary: {"t":"asked","from":k,"pid":p,
  // "id":n,"data":…}. The answer goes back as {"t":"answer","pid":p,"id":n,"data"|"error":…},
  // once, however often the handler calls reply.
  void on_asked(nlohmann::json&& m) {
    const auto id = m.find("id");
    const auto pid = m.find("pid");
    const auto from = m.find("from");
    const auto data = m.find("data");
    if (id == m.end() || !id->is_number_unsigned() || pid == m.end() || !pid->is_number_integer() ||
        data == m.end()) {
      warn("dropped a request from the primary with no id, pid or data");
      return;
    }
    nlohmann::json envelope{{"t", "answer"}, {"pid", *pid}, {"id", *id}};
    auto answer = [this, envelope, done = std::make_shared<bool>(false)](const nlohmann::json* reply,
                                                                        const char* error) mutable {
      if (*done) return;
      *done = true;
      if (reply != nullptr) {
        envelope["data"] = *reply;
        if (channel_.send(envelope)) return;
        envelope.erase("data");
        error = "handler_failed";
      }
      envelope["error"] = error;
      channel_.send(envelope);
    };
    if (!ctx_.on_request) return answer(nullptr, "no_handler");
    const int sender = from != m.end() && from->is_number_integer() ? from->get<int>() : -1;
    const auto handler = ctx_.on_request;  // it may replace itself while it runs
    try {
      handler(*data, sender, [answer](const nlohmann::json& reply) mutable { answer(&reply, nullptr); });
    } catch (const std::exception& e) {
      warn("a request handler threw: ", e.what());
      answer(nullptr, "handler_failed");
    }
  }

  // keep_accepting: a full stop, where nobody else will take this listener's queue; accept and
  // answer with `Connection: close` until quiet. Otherwise (a reload) the successor accepts.
  void begin_stop(bool keep_accepting) {
    switch (phase_) {
      case phase::serving: break;
      case phase::accepting_drain:
        if (!keep_accepting) stop_accepting();
        return;
      case phase::draining:
      case phase::done: return;
    }
    arm_deadline();
    if (!keep_accepting) {
      stop_accepting();
      return;
    }
    phase_ = phase::accepting_drain;
    core_.shutdown({}, /*keep_accepting=*/true);
    const std::int64_t now = monotonic_ms();
    window_end_ms_ = now + l_.opts->shutdown_timeout.count() / 2;
    quiet_since_ms_ = now;
    last_total_ = cell_.c.connections_total.load(std::memory_order_relaxed);
    poll_drain();
  }

  void poll_drain() {
    drain_timer_.expires_after(drain_poll);
    drain_timer_.async_wait([this](const asio::error_code& ec) {
      if (ec || phase_ != phase::accepting_drain) return;
      const std::int64_t now = monotonic_ms();
      const auto total = cell_.c.connections_total.load(std::memory_order_relaxed);
      if (total != last_total_) {
        last_total_ = total;
        quiet_since_ms_ = now;
      }
      const bool quiet = core_.connection_count() == 0 && now - quiet_since_ms_ >= quiet_ms;
      if (quiet || now >= window_end_ms_) {
        stop_accepting();
      } else {
        poll_drain();
      }
    });
  }

  void stop_accepting() {
    phase_ = phase::draining;
    drain_timer_.cancel();
    core_.shutdown([this] { finish(); }, /*keep_accepting=*/false);
  }

  void arm_deadline() {
    const milliseconds timeout = l_.opts->shutdown_timeout;
    deadline_.expires_after(timeout - std::min(stop_hooks_time, timeout / 4));
    deadline_.async_wait([this](const asio::error_code& ec) {
      if (ec || phase_ == phase::done) return;
      log("worker for slot ", l_.slot, " drain deadline: closing ", core_.connection_count(),
          " connections");
      finish();
    });
  }

  // The drain is over: whatever is left is cut, the application's stop hooks run, the loop ends.
  void finish() {
    if (phase_ == phase::done) return;
    phase_ = phase::done;
    drain_timer_.cancel();
    deadline_.cancel();
    core_.close();
    run_stop_hooks(*l_.hooks);
    io_.stop();
  }

  const worker_launch& l_;
  stats_cell& cell_;
  // The worker's one thread; nothing is posted from outside: no locks in the loop.
  asio::io_context io_{ASIO_CONCURRENCY_HINT_UNSAFE};
  ipc_channel channel_;
  server_core core_;
  asio::steady_timer drain_timer_;
  asio::steady_timer deadline_;  // the drain's end, ahead of the primary's SIGKILL
  asio::posix::stream_descriptor signals_;
  worker_context ctx_;
  phase phase_ = phase::serving;
  std::int64_t window_end_ms_ = 0;
  std::int64_t quiet_since_ms_ = 0;
  std::uint64_t last_total_ = 0;
};

}  // namespace

void worker_main(const worker_launch& parent_launch) {
  worker_launch launch = parent_launch;
  set_log_slot(launch.slot);
  launch.signal_fd = reset_child_signals();
  die_with_primary(launch.primary_pid,
                   static_cast<unsigned>(launch.opts->shutdown_timeout.count() / 1000 + 1));
  close_fds_except({launch.listen_fd, launch.channel_fd, launch.signal_fd});
  prepare_process();
  int status = 1;
  try {
    if (launch.drop != nullptr) drop_privileges(*launch.drop);
    worker_runtime rt(launch);
    status = rt.run();
  } catch (const std::exception& e) {
    log("worker for slot ", launch.slot, " failed: ", e.what());
    status = 1;
  }
  std::fflush(nullptr);
  // Not exit(): the primary's objects (its event loop, its statics) live on in this copy of its
  // memory and must not be torn down from here.
  ::_exit(status);
}

}  // namespace hive::detail

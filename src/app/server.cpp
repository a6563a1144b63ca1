#include "hive/server.hpp"

#include <csignal>
#include <exception>
#include <system_error>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>

#include "app/serve.hpp"
#include "cluster/worker_context.hpp"
#include "net/server_core.hpp"
#include "net/tls_context.hpp"
#include "net/tls_kernel.hpp"
#include "ops/pid_file.hpp"
#include "ops/sd_notify.hpp"
#include "ops/socket_activation.hpp"
#include "util/log.hpp"
#include "util/process.hpp"

namespace hive {

server::server(asio::io_context& io, const app& a, const options& opts)
    : core_(std::make_unique<detail::server_core>(io, a, opts)) {
  detail::add_local_server(core_.get());
}
server::~server() { detail::remove_local_server(core_.get()); }

void server::listen() { core_->listen(); }
void server::listen_on(int fd) { core_->listen_on(fd); }
std::uint16_t server::port() const { return core_->port(); }
void server::shutdown(std::function<void()> done) { core_->shutdown(std::move(done)); }
void server::close() { core_->close(); }
std::size_t server::connection_count() const { return core_->connection_count(); }

int serve(const app& a, const options& opts) { return detail::serve(a, opts, {}); }

}  // namespace hive

namespace hive::detail {

// hive::serve runs the loop itself: it reaches the server's core, which the public header keeps
// opaque.
struct server_access {
  static server_core& core(server& s) { return *s.core_; }
};

void run_stop_hooks(const worker_hooks& hooks) {
  for (const auto& hook : hooks.stop) {
    try {
      hook();
    } catch (const std::exception& e) {
      warn("a stop hook threw: ", e.what());
    } catch (...) {
      warn("a stop hook threw an exception not derived from std::exception");
    }
  }
}

int serve(const app& a, const options& opts, const worker_hooks& hooks) {
  prepare_process();
  set_log_json(opts.log_format_kind == options::log_format::json);
  if (!opts.user.empty()) {
    log_line("hive: --user drops the privileges of cluster workers; with --workers 0 run as that user");
    return 2;
  }
  if (const std::string bad = tls_check(opts); !bad.empty()) {
    log_line(bad);
    return 2;
  }
  if (opts.tls()) log(kernel_tls_line(opts.tls_kernel));
  // One thread, nothing posted from outside: no locks in the scheduler or reactor.
  asio::io_context io(ASIO_CONCURRENCY_HINT_UNSAFE);
  server srv(io, a, opts);
  try {
    for (const auto& hook : hooks.start) hook();
  } catch (const std::exception& e) {
    log("failed to start: ", e.what());
    return 1;
  }
  sd_notifier notifier = sd_notifier::from_environment();
  try {
    // systemd socket activation: the one process serves the passed socket instead of binding.
    const activated_socket act = take_activated_socket();
    if (act.fd >= 0) {
      srv.listen_on(act.fd);
      log("adopted the socket-activated listener", act.name.empty() ? "" : " '", act.name,
          act.name.empty() ? "" : "'", " on port ", act.port);
    } else {
      srv.listen();
    }
  } catch (const std::exception& e) {  // system_error from bind, runtime_error from activation
    log_line(e.what());
    return 1;
  }
  // Before anyone is told we serve (the log line, the pid file, READY=1): a signal sent on the
  // strength of those must find its handler (USR2's default action ended the process under ASan
  // at load). SIGHUP too: its default action would end the process at once, and a reload
  // command written for a cluster (`kill -HUP`) must not take a single-process server down.
  asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
  signals.add(SIGUSR1);
  signals.add(SIGUSR2);  // its default action would end the process
  log("listening on ", opts.host, ':', srv.port());
  if (!opts.pid_file.empty()) write_pid_file(opts.pid_file);
  notifier.notify("READY=1\nSTATUS=serving on port " + std::to_string(srv.port()) + " in one process");

  asio::steady_timer deadline(io);
  bool stopping = false;
  bool finished = false;
  // The drain is over (or cut): the application's stop hooks run on the loop, then it ends.
  const auto finish = [&] {
    if (finished) return;
    finished = true;
    deadline.cancel();
    srv.close();
    run_stop_hooks(hooks);
    io.stop();
  };
  std::function<void(const asio::error_code&, int)> on_signal =
      [&](const asio::error_code& ec, int sig) {
        if (ec) return;
        if (sig == SIGUSR1) {  // logrotate
          server_access::core(srv).reopen_logs();
          signals.async_wait(on_signal);
          return;
        }
        if (sig == SIGHUP || sig == SIGUSR2) {
          log(sig == SIGHUP ? "SIGHUP ignored: one process (--workers 0) has no workers to reload"
                            : "SIGUSR2 ignored: binary upgrade needs a primary (--workers 1 or more)");
          signals.async_wait(on_signal);
          return;
        }
        if (stopping) {  // a second signal: stop now
          log("stopping now");
          finish();
          return;
        }
        stopping = true;
        notifier.notify("STOPPING=1\nSTATUS=draining");
        log("stopping (", sig == SIGINT ? "SIGINT" : "SIGTERM", "): finishing ",
            srv.connection_count(), " connections");
        srv.shutdown(finish);
        deadline.expires_after(opts.shutdown_timeout);
        deadline.async_wait([&](const asio::error_code& e) {
          if (e) return;
          log("shutdown timeout: closing ", srv.connection_count(), " connections");
          finish();
        });
        signals.async_wait(on_signal);
      };
  signals.async_wait(on_signal);
  server_access::core(srv).run();  // one epoll_wait for the connections and Asio's own work
  if (!opts.pid_file.empty()) remove_pid_file_if_ours(opts.pid_file);
  log("stopped");
  return 0;
}

}  // namespace hive::detail

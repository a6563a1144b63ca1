// Binary upgrade (SIGUSR2): start the program on disk as a new primary on our listeners, and
// hand over once every one of its slots listens; if it fails or is late, stop it and keep serving.
// One signal does it all: nginx's USR2, WINCH, QUIT in one step.
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include <asio/read.hpp>

#include "cluster/primary.hpp"
#include "ops/pid_file.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"

namespace hive::detail {

void primary::start_upgrade() {
  if (!running_) return;
  if (stopping_) {
    log("upgrade asked for (SIGUSR2) while ",
        handover_ == handover::none ? "stopping" : "draining after an upgrade", ": ignored");
    return;
  }
  if (upgrade_.pid > 0) {
    log("upgrade asked for (SIGUSR2) while new primary ", upgrade_.pid, " starts: ignored");
    return;
  }
  if (reload_.active) {
    log("upgrade asked for (SIGUSR2) during a reload: refused; send it again after \"reload done\"");
    return;
  }
  if (::getpid() == 1) {
    // The old primary exits after the hand-over, and when PID 1 exits the kernel kills every
    // process of its namespace: the new primary and all workers with it.
    warn("upgrade refused (SIGUSR2): this primary is PID 1 (a container without an init), whose exit "
         "would kill the new primary too; run it under an init (tini, docker run --init)");
    return;
  }
  if (program_.path.empty()) {
    warn("upgrade refused (SIGUSR2): this program's file was not found at start-up");
    return;
  }
  std::vector<int> fds;
  for (const auto& s : slots_) {
    if (s.listen_fd >= 0) fds.push_back(s.listen_fd);
  }
  std::vector<std::string> env;
  if (notifier_.enabled()) env.push_back("NOTIFY_SOCKET=" + notifier_.socket_path());
  if (notifier_.watchdog_interval().count() > 0) {
    env.push_back("WATCHDOG_USEC=" + std::to_string(notifier_.watchdog_interval().count()));
  }
  started_program sp;
  try {
    sp = start_program(program_, fds, env);
  } catch (const std::exception& e) {
    warn("upgrade refused (SIGUSR2): ", e.what(), "; this primary keeps serving");
    return;
  }
  const pid_t pid = sp.pid;
  upgrade_.pid = pid;
  notifier_.notify("RELOADING=1\n" + monotonic_usec_field() + "\nSTATUS=upgrading: new primary " +
                   std::to_string(pid) + " starting");
  log("upgrade (SIGUSR2): started ", program_.path, " as new primary ", pid, " on ", fds.size(),
      " listeners; it takes over once its workers listen (--listen-timeout ",
      seconds_text(opts_.listen_timeout), ")");
  upgrade_.ready = std::make_unique<asio::posix::stream_descriptor>(io_, sp.ready_fd);
  asio::async_read(*upgrade_.ready, asio::buffer(&upgrade_.byte, 1),
                   [this, pid](const asio::error_code& ec, std::size_t n) {
                     if (ec == asio::error::operation_aborted || upgrade_.pid != pid) return;
                     if (!ec && n == 1) {
                       upgrade_ready(pid);
                     } else {
                       upgrade_failed(pid, "ended before its workers listened");
                     }
                   });
  upgrade_.timer = std::make_unique<asio::steady_timer>(io_);
  upgrade_.timer->expires_after(opts_.listen_timeout);
  upgrade_.timer->async_wait([this, pid](const asio::error_code& ec) {
    if (ec || upgrade_.pid != pid) return;
    upgrade_failed(pid, "did not have every worker listening within " + seconds_text(opts_.listen_timeout) +
                            " (--listen-timeout)");
  });
}

void primary::upgrade_failed(pid_t pid, const std::string& why) {
  upgrade_.pid = -1;
  upgrade_.timer->cancel();
  upgrade_.ready.reset();  // closes the pipe
  // SIGTERM: its workers (if any listen already) drain what they accepted from the shared
  // sockets instead of resetting it; SIGKILL if it is still there at --shutdown-timeout.
  ::kill(pid, SIGTERM);
  auto t = std::make_unique<asio::steady_timer>(io_);
  t->expires_after(opts_.shutdown_timeout);
  t->async_wait([this, pid](const asio::error_code& ec) {
    if (ec || upgrade_.stopped.count(pid) == 0) return;
    log("new primary ", pid, " still there after --shutdown-timeout; killing it (SIGKILL)");
    ::kill(pid, SIGKILL);
  });
  upgrade_.stopped[pid] = std::move(t);
  reap_candidates();  // it may be gone already
  if (stopping_) return;  // begin_stop says the rest
  // Our timeout and its "ready" may cross: it wrote the pid file just before we gave up, and
  // will remove it as its own when it exits. Ours again (reaffirmed when it is reaped).
  if (announced_ && !opts_.pid_file.empty()) write_pid_file(opts_.pid_file);
  log("upgrade failed: new primary ", pid, ' ', why, "; stopped it, this primary (", ::getpid(),
      ") keeps serving");
  notifier_.notify("READY=1\nSTATUS=upgrade failed; serving on port " + std::to_string(port_));
}

void primary::upgrade_ready(pid_t pid) {
  upgrade_.pid = -1;
  upgrade_.timer->cancel();
  upgrade_.ready.reset();
  // From now on systemd follows the new primary (NotifyAccess=main: only the main pid may say
  // READY=1, so the old one says it for the new one).
  notifier_.notify("MAINPID=" + std::to_string(pid) + "\nREADY=1\nSTATUS=upgraded: new primary " +
                   std::to_string(pid) + " serves on port " + std::to_string(port_));
  hand_over(pid);
}

void primary::hand_over(pid_t to) {
  stopping_ = true;
  handover_ = handover::draining;
  reload_.active = false;
  reload_.again = false;
  reload_.timer->cancel();
  for (auto& s : slots_) {
    s.restart_timer->cancel();
    if (s.listen_fd >= 0) ::close(s.listen_fd);  // the new primary holds them open
    s.listen_fd = -1;
  }
  log("upgrade: new primary ", to, " serves; draining ", procs_.size(), " workers, then exiting");
  // Like a reload's retiring worker: stop accepting now, finish what is open.
  drain_workers(false);
}

void primary::announce_upgraded() {
  if (!opts_.pid_file.empty()) write_pid_file(opts_.pid_file);  // before the old one leaves
  const pid_t old = ::getppid();
  if (report_ready(upgrade_ready_fd_)) {
    log("upgrade: every slot listens; told the previous primary ", old, " to hand over");
    return;
  }
  // The old primary is gone (killed, or it gave up waiting): speak for the service ourselves.
  warn("upgrade: the previous primary is gone; serving on our own");
  notifier_.notify("READY=1\nSTATUS=serving on port " + std::to_string(port_));
}

void primary::reap_candidates() {
  for (auto it = upgrade_.stopped.begin(); it != upgrade_.stopped.end();) {
    int st = 0;
    if (::waitpid(it->first, &st, WNOHANG) == it->first) {
      log("new primary ", it->first, ' ',
          WIFEXITED(st) ? "exited with code " + std::to_string(WEXITSTATUS(st))
                        : "was killed by signal " + std::to_string(WTERMSIG(st)));
      it->second->cancel();
      it = upgrade_.stopped.erase(it);
      // It may have written the pid file after upgrade_failed did, and removed it on exit.
      if (!stopping_ && announced_ && !opts_.pid_file.empty()) write_pid_file(opts_.pid_file);
    } else {
      ++it;
    }
  }
}

}  // namespace hive::detail

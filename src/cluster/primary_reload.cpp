// Rolling reload: one slot at a time, start the new worker on the slot's listener (the same
// socket, so its accept queue is shared, never reset), wait until it listens, then drain the old
// one. A new worker that fails or is late stops the reload; the old one keeps serving.
#include "cluster/primary.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"

namespace hive::detail {

void primary::start_reload(const char* why) {
  if (stopping_ || !running_) return;
  if (upgrade_.pid > 0) {
    // Workers forked now would run the old code, and the hand-over would drain them at once.
    log("reload refused (", why, "): new primary ", upgrade_.pid,
        " is starting (SIGUSR2); if the upgrade fails, ask again");
    return;
  }
  if (reload_.active) {
    reload_.again = true;
    log("reload asked for (", why, ") while one runs: it will run again after");
    return;
  }
  // New workers load the certificate and key anew; checked here first, a bad pair refuses the
  // reload and the workers keep serving what they loaded, instead of each new one failing.
  if (const std::string bad = tls_check(opts_); !bad.empty()) {
    warn("reload refused (", why, "): ", bad.substr(bad.find(' ') + 1),
         "; the workers keep the certificate they have");
    return;
  }
  reload_.active = true;
  reload_.again = false;
  reload_.slot = -1;
  reload_.first_id = next_id_;
  reload_.awaiting = false;
  log("reloading (", why, "): ", slots_.size(), " slots, one at a time");
  notifier_.notify("RELOADING=1\n" + monotonic_usec_field() + "\nSTATUS=reloading");
  reload_next();
}

void primary::reload_next() {
  const int n = static_cast<int>(slots_.size());
  for (int k = reload_.slot + 1; k < n; ++k) {
    slot& s = slots_[static_cast<std::size_t>(k)];
    if (s.status == slot_status::given_up) continue;
    reload_.slot = k;
    if (s.current == nullptr || s.current->handle->id() >= reload_.first_id) {
      log("reload: slot ", k, " skipped: its worker is restarting and will start from the new code anyway");
      continue;
    }
    if (!s.current->handle->listening()) {
      // Forked before the reload was asked for (a restart after a crash, say): it would keep the
      // old code and configuration, so it is replaced too, once it listens.
      const pid_t pid = s.current->handle->pid();
      reload_.awaiting = true;
      log("reload: slot ", k, " waits for its starting worker ", pid, " before replacing it");
      reload_.timer->expires_after(opts_.listen_timeout);
      reload_.timer->async_wait([this, k, pid](const asio::error_code& ec) {
        const slot& now = slots_[static_cast<std::size_t>(k)];
        if (ec || !reload_.active || !reload_.awaiting || reload_.slot != k ||
            now.current == nullptr || now.current->handle->pid() != pid) {
          return;
        }
        log("reload: slot ", k, " skipped: worker ", pid, " did not report listening within ",
            seconds_text(opts_.listen_timeout), " (--listen-timeout)");
        reload_.awaiting = false;
        reload_next();
      });
      return;
    }
    spawn(k, role::replacement);
    if (s.replacement == nullptr) {
      abort_reload("could not start a new worker for slot " + std::to_string(k));
      return;
    }
    const pid_t pid = s.replacement->handle->pid();
    reload_.timer->expires_after(opts_.listen_timeout);
    reload_.timer->async_wait([this, k, pid](const asio::error_code& ec) {
      // The pid too: with one slot, a handler queued by the previous round would match `k`.
      const slot& now = slots_[static_cast<std::size_t>(k)];
      if (ec || !reload_.active || reload_.slot != k || now.replacement == nullptr ||
          now.replacement->handle->pid() != pid) {
        return;
      }
      abort_reload("new worker " + std::to_string(pid) + " for slot " + std::to_string(k) +
                   " did not report listening within " + seconds_text(opts_.listen_timeout) +
                   " (--listen-timeout)");
    });
    return;
  }
  reload_.active = false;
  stats_->board().reloads_done.fetch_add(1, std::memory_order_relaxed);
  log("reload done");
  notifier_.notify("READY=1\nSTATUS=reloaded; serving on port " + std::to_string(port_));
  if (reload_.again) start_reload("asked for during the last one");
}

void primary::reload_resume(int k) {
  if (!reload_.active || !reload_.awaiting || reload_.slot != k) return;
  reload_.timer->cancel();
  reload_.awaiting = false;
  reload_.slot = k - 1;
  reload_next();
}

void primary::reload_listening(proc& p) {
  const int k = p.handle->slot();
  slot& s = slots_[static_cast<std::size_t>(k)];
  if (!reload_.active || s.replacement != &p) return;
  reload_.timer->cancel();
  proc* old = s.current;
  p.r = role::serving;
  s.current = &p;
  s.replacement = nullptr;
  s.status = slot_status::running;
  if (old != nullptr) {
    log("reload: slot ", k, " now served by worker ", p.handle->pid(), "; worker ",
        old->handle->pid(), " draining");
    retire(*old);
  }
  reload_next();
}

void primary::abort_reload(const std::string& reason) {
  reload_.timer->cancel();
  stats_->board().reloads_failed.fetch_add(1, std::memory_order_relaxed);
  notifier_.notify("READY=1\nSTATUS=reload aborted; the old workers serve");
  const int k = reload_.slot;
  std::string kept;
  if (k >= 0 && k < static_cast<int>(slots_.size())) {
    slot& s = slots_[static_cast<std::size_t>(k)];
    if (s.replacement != nullptr) {
      proc& r = *s.replacement;
      r.r = role::abandoned;
      s.replacement = nullptr;
      kill_worker(r, "is abandoned");
    }
    if (s.current != nullptr) {
      kept = "; slot " + std::to_string(k) + " keeps worker " + std::to_string(s.current->handle->pid());
    } else if (s.status != slot_status::given_up && !stopping_) {
      kept = "; slot " + std::to_string(k) + " lost its old worker meanwhile: starting one";
      start_serving(k);
    }
  }
  const int left = static_cast<int>(slots_.size()) - k - 1;
  log("reload aborted: ", reason, kept,
      left > 0 ? "; " + std::to_string(left) + " later slots not reloaded" : std::string());
  reload_.active = false;
  reload_.again = false;
  reload_.awaiting = false;
}

}  // namespace hive::detail

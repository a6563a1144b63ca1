// Where the numbers are: a cluster worker reads every slot of the shared stats and the primary's
// board; a single process sums its own servers' counters.
#include "ops/ops_answers.hpp"

#include <unistd.h>

#include "cluster/worker_context.hpp"
#include "hive/metrics.hpp"
#include "net/server_core.hpp"
#include "ops/metrics_render.hpp"
#include "ops/user_metrics.hpp"

namespace hive::detail {

namespace {

constexpr auto answers_relaxed = std::memory_order_relaxed;

metrics_snapshot cluster_snapshot(const shared_stats& st) {
  metrics_snapshot m;
  m.cluster = true;
  m.slots.resize(static_cast<std::size_t>(st.slots()));
  for (int k = 0; k < st.slots(); ++k) {
    const stats_slot& sl = st.slot(k);
    slot_snapshot& s = m.slots[static_cast<std::size_t>(k)];
    s.restarts = sl.restarts.load(answers_relaxed);
    s.messages_dropped = sl.messages_dropped.load(answers_relaxed);
    for (const stats_cell& cell : sl.cells) {
      s.add(cell.c);  // a dead worker's cell keeps its counts: the slot's totals never fall
      const std::int32_t pid = cell.pid.load(answers_relaxed);
      if (pid <= 0) continue;
      ++s.workers_up;
      const process_sample p = sample_process(pid);
      s.process.rss_bytes += p.rss_bytes;
      s.process.cpu_seconds += p.cpu_seconds;
      s.process.open_fds += p.open_fds;
    }
  }
  const cluster_board& b = st.board();
  m.reloads_done = b.reloads_done.load(answers_relaxed);
  m.reloads_failed = b.reloads_failed.load(answers_relaxed);
  m.slots_given_up = b.given_up.load(answers_relaxed);
  m.ready = b.ready();
  return m;
}

metrics_snapshot local_snapshot() {
  metrics_snapshot m;
  m.slots.resize(1);
  slot_snapshot& s = m.slots[0];
  bool draining = false;
  const int servers = for_each_local_server([&](const server_core& core) {
    s.add(core.stats());
    draining = draining || core.draining();
  });
  s.workers_up = servers > 0 ? 1 : 0;
  s.process = sample_process(::getpid());
  m.ready = servers > 0 && !draining;
  return m;
}

}  // namespace

void answer_metrics(response& res) {
  res.header("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
  res.text(metrics_text());
}

void answer_health(response& res) { res.text("ok\n"); }

void answer_ready(response& res, bool local_draining) {
  const worker_context* w = current_worker();
  const bool ready = w != nullptr ? w->stats->board().ready() : !local_draining;
  if (!ready) res.status(503);
  res.text(ready ? "ready\n" : "not ready\n");
}

}  // namespace hive::detail

namespace hive {

std::string metrics_text() {
  const detail::worker_context* w = detail::current_worker();
  std::string out =
      detail::render_metrics(w != nullptr ? detail::cluster_snapshot(*w->stats) : detail::local_snapshot());
  detail::render_user_metrics(out);
  return out;
}

handler metrics_handler() {
  return [](const request&, response& res) { detail::answer_metrics(res); };
}

}  // namespace hive

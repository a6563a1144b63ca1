// Your own Prometheus metrics, in the same endpoint as hive's (--metrics-path, metrics_text()).
// Declare them before hive::run — their values live in memory shared by every worker, mapped
// when declared, so it must happen before the workers fork — then update them from any worker,
// any thread, without a lock (one atomic instruction; a gauge's add and a histogram's sum a
// compare-and-swap loop). Values are cluster-wide: no `worker` label.
//
//   hive::counter signups("app_signups_total", "Accounts created.");
//   hive::histogram render_s("app_render_seconds", "Template rendering.", {0.001, 0.01, 0.1, 1});
//   app.post("/signup", [=](const hive::request&, hive::response& res) { signups.inc(); … });
//   return hive::run(app, opts);
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace hive {

// Only goes up. The name must end in `_total` (Prometheus's convention, which promtool checks).
// Throws std::invalid_argument for a bad or repeated name, std::logic_error inside a worker.
class counter {
 public:
  counter(const std::string& name, const std::string& help);
  void inc(std::uint64_t n = 1) const noexcept { v_->fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const noexcept { return v_->load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t>* v_;
};

// Goes up and down.
class gauge {
 public:
  gauge(const std::string& name, const std::string& help);
  void set(double v) const noexcept;
  void add(double d) const noexcept;
  double value() const noexcept;

 private:
  std::atomic<std::uint64_t>* bits_;  // the double's bits
};

// Observations counted into fixed buckets (upper bounds, ascending, finite; +Inf is implied).
class histogram {
 public:
  histogram(const std::string& name, const std::string& help, std::vector<double> bounds);
  void observe(double v) const noexcept;

 private:
  std::atomic<std::uint64_t>* cells_;  // [1] the sum's bits, [2…] the buckets
  std::vector<double> bounds_;
};

}  // namespace hive

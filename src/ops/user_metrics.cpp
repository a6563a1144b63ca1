#include "ops/user_metrics.hpp"

#include <sys/mman.h>

#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <new>
#include <stdexcept>
#include <system_error>

#include "cluster/worker_context.hpp"
#include "hive/metric.hpp"

namespace hive::detail {

namespace {

enum class kind { counter, gauge, histogram };

// One metric's values, in a shared mapping of their own: [0] the counter or the gauge's bits,
// [1] a histogram's sum (double bits), [2…] its buckets (not cumulative).
struct declared {
  kind k;
  std::string name, help;
  std::vector<double> bounds;
  std::atomic<std::uint64_t>* cells;
};

struct registry {
  std::mutex mu;  // declarations and scrapes only; never an update
  std::vector<declared> all;
};

registry& reg() {
  static registry r;
  return r;
}

bool valid_name(const std::string& n) {
  if (n.empty()) return false;
  for (std::size_t i = 0; i < n.size(); ++i) {
    const char c = n[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
                    (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return !n.starts_with("__");
}

std::atomic<std::uint64_t>* declare(kind k, const std::string& name, const std::string& help,
                                    std::vector<double> bounds) {
  if (current_worker() != nullptr) {
    throw std::logic_error("hive: metric '" + name + "' declared in a worker; declare metrics before hive::run");
  }
  if (!valid_name(name)) throw std::invalid_argument("hive: bad metric name '" + name + "'");
  if (k == kind::counter && !name.ends_with("_total")) {
    throw std::invalid_argument("hive: counter '" + name + "' must end in _total");
  }
  if (name.starts_with("hive_")) throw std::invalid_argument("hive: metric names starting hive_ are hive's");
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1])) {
      throw std::invalid_argument("hive: histogram '" + name + "': bounds must be finite and ascending");
    }
  }
  const std::size_t cells = 2 + bounds.size() + 1;
  const std::size_t bytes = cells * sizeof(std::atomic<std::uint64_t>);
  auto& r = reg();
  std::lock_guard lock(r.mu);
  for (const auto& d : r.all) {
    if (d.name == name) throw std::invalid_argument("hive: metric '" + name + "' declared twice");
  }
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::system_error(errno, std::system_category(), "hive: cannot map a metric");
  auto* c = static_cast<std::atomic<std::uint64_t>*>(p);
  for (std::size_t i = 0; i < cells; ++i) new (&c[i]) std::atomic<std::uint64_t>(0);
  if (k == kind::gauge) c[0].store(std::bit_cast<std::uint64_t>(0.0));
  r.all.push_back({k, name, help, std::move(bounds), c});
  return c;  // never unmapped: the handles may be copied anywhere
}

void add_double(std::atomic<std::uint64_t>& bits, double d) {
  std::uint64_t old = bits.load(std::memory_order_relaxed);
  while (!bits.compare_exchange_weak(old, std::bit_cast<std::uint64_t>(std::bit_cast<double>(old) + d),
                                     std::memory_order_relaxed)) {
  }
}

std::string show(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// HELP text: backslash and newline escaped, as the format asks.
std::string escape_help(const std::string& h) {
  std::string out;
  for (const char c : h) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

}  // namespace

void render_user_metrics(std::string& out) {
  auto& r = reg();
  std::lock_guard lock(r.mu);
  constexpr auto rx = std::memory_order_relaxed;
  for (const auto& d : r.all) {
    const char* type = d.k == kind::counter ? "counter" : d.k == kind::gauge ? "gauge" : "histogram";
    out += "# HELP " + d.name + " " + escape_help(d.help) + "\n# TYPE " + d.name + " " + type + "\n";
    switch (d.k) {
      case kind::counter: out += d.name + " " + std::to_string(d.cells[0].load(rx)) + "\n"; break;
      case kind::gauge: out += d.name + " " + show(std::bit_cast<double>(d.cells[0].load(rx))) + "\n"; break;
      case kind::histogram: {
        std::uint64_t cumulative = 0;
        for (std::size_t i = 0; i <= d.bounds.size(); ++i) {
          cumulative += d.cells[2 + i].load(rx);
          const std::string le = i < d.bounds.size() ? show(d.bounds[i]) : "+Inf";
          out += d.name + "_bucket{le=\"" + le + "\"} " + std::to_string(cumulative) + "\n";
        }
        out += d.name + "_sum " + show(std::bit_cast<double>(d.cells[1].load(rx))) + "\n";
        // The buckets' total, not cells[0] read separately: a scrape in the middle of an
        // observe() then still has +Inf == _count.
        out += d.name + "_count " + std::to_string(cumulative) + "\n";
        break;
      }
    }
  }
}

}  // namespace hive::detail

namespace hive {

counter::counter(const std::string& name, const std::string& help)
    : v_(detail::declare(detail::kind::counter, name, help, {})) {}

gauge::gauge(const std::string& name, const std::string& help)
    : bits_(detail::declare(detail::kind::gauge, name, help, {})) {}

void gauge::set(double v) const noexcept { bits_->store(std::bit_cast<std::uint64_t>(v), std::memory_order_relaxed); }
void gauge::add(double d) const noexcept { detail::add_double(*bits_, d); }
double gauge::value() const noexcept { return std::bit_cast<double>(bits_->load(std::memory_order_relaxed)); }

histogram::histogram(const std::string& name, const std::string& help, std::vector<double> bounds)
    : cells_(detail::declare(detail::kind::histogram, name, help, bounds)), bounds_(std::move(bounds)) {}

void histogram::observe(double v) const noexcept {
  std::size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  cells_[2 + i].fetch_add(1, std::memory_order_relaxed);
  detail::add_double(cells_[1], v);
}

}  // namespace hive

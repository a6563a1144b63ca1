// hive pub/sub across 2 workers: slot 0 publishes, slot 1 subscribes (through the primary, as
// every publish goes). For 64-byte and 4 KiB payloads it measures
//   - latency with one message in flight (slot 1 acknowledges each before the next is sent),
//   - throughput with up to `window` messages in flight (acknowledged every 100), and the
//     latency under that load.
// Latency is one way, publish → handler, from CLOCK_MONOTONIC stamps (the same clock in every
// process). Not run by the test suite; see bench/README.md.
//
//   build/bench/pubsub_bench [seconds of throughput per size, default 2]
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <hive/hive.hpp>

namespace {

using steady = std::chrono::steady_clock;
constexpr std::size_t max_samples = 4'000'000;
constexpr int window = 500;  // in flight at most: 500 × 4 KiB stays under the 4 MiB channel bound
constexpr int ack_every = 100;
constexpr int ping_count = 2000;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(steady::now().time_since_epoch()).count();
}

// Mapped before the cluster forks: slot 1 writes what it measured, slot 0 reads and reports.
struct shared_results {
  std::atomic<std::uint64_t> n{0};
  std::int64_t first_ns = 0, last_ns = 0;
  std::int64_t lat_ns[max_samples];
};
shared_results* results = nullptr;

double percentile(std::vector<std::int64_t> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return static_cast<double>(v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))]) / 1000.0;
}

std::vector<std::int64_t> take_samples() {
  const auto n = std::min<std::uint64_t>(results->n.load(), max_samples);
  std::vector<std::int64_t> v(results->lat_ns, results->lat_ns + n);
  results->n = 0;
  return v;
}

// Slot 1: every message's one-way latency, and acknowledgements back to slot 0.
void subscriber() {
  hive::worker::subscribe("bench", [](const nlohmann::json& m) {
    const std::int64_t t = now_ns();
    const auto i = results->n.fetch_add(1);
    if (i < max_samples) results->lat_ns[i] = t - m["t"].get<std::int64_t>();
    if (i == 0) results->first_ns = t;
    results->last_ns = t;
    const auto seq = m["s"].get<std::int64_t>();
    if (m["ping"].get<bool>() || (seq + 1) % ack_every == 0) hive::worker::publish("ack", seq + 1);
  });
}

// Slot 0: runs the phases one after another on its loop, driven by the acknowledgements.
class publisher {
 public:
  explicit publisher(double seconds) : seconds_(seconds) {}

  void start() {
    hive::worker::subscribe("ack", [this](const nlohmann::json& m) { on_ack(m.get<std::int64_t>()); });
    auto t = std::make_shared<asio::steady_timer>(hive::worker::io(), std::chrono::milliseconds(1000));
    t->async_wait([this, t](const asio::error_code&) { next_size(); });
  }

 private:
  enum class phase { ping, flood, done };

  void next_size() {
    if (size_index_ == 2) {
      hive::worker::send({{"done", true}});
      return;
    }
    payload_ = std::string(size_index_ == 0 ? 64 : 4096, 'x');
    ++size_index_;
    phase_ = phase::ping;
    sent_ = acked_ = 0;
    take_samples();
    send_one(true);
  }

  void send_one(bool ping) {
    hive::worker::publish("bench", {{"s", sent_}, {"t", now_ns()}, {"ping", ping}, {"p", payload_}});
    ++sent_;
  }

  void on_ack(std::int64_t n) {
    acked_ = std::max(acked_, n);
    switch (phase_) {
      case phase::ping:
        if (acked_ < sent_) return;
        if (sent_ < ping_count) return send_one(true);
        ping_ = take_samples();
        phase_ = phase::flood;
        sent_ = acked_ = 0;
        flood_end_ = steady::now() + std::chrono::milliseconds(static_cast<long>(seconds_ * 1000));
        return fill_window();
      case phase::flood:
        if (steady::now() < flood_end_) return fill_window();
        while (sent_ % ack_every != 0) send_one(false);  // so that the last one is acknowledged
        if (acked_ < sent_) return;
        return report();
      case phase::done: return;
    }
  }

  void fill_window() {
    while (sent_ - acked_ < window) send_one(false);
  }

  void report() {
    phase_ = phase::done;
    const auto n = results->n.load();
    const double secs = static_cast<double>(results->last_ns - results->first_ns) / 1e9;
    const auto load = take_samples();
    std::printf("pub/sub %4zu B: %9.0f msg/s (%d in flight);  one in flight p50 %6.1f us p99 %6.1f us;"
                "  under load p50 %8.1f us p99 %8.1f us\n",
                payload_.size(), static_cast<double>(n) / secs, window, percentile(ping_, 0.5),
                percentile(ping_, 0.99), percentile(load, 0.5), percentile(load, 0.99));
    std::fflush(stdout);
    next_size();
  }

  double seconds_;
  int size_index_ = 0;
  std::string payload_;
  phase phase_ = phase::ping;
  std::int64_t sent_ = 0, acked_ = 0;
  steady::time_point flood_end_;
  std::vector<std::int64_t> ping_;
};

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 2.0;
  void* p = ::mmap(nullptr, sizeof(shared_results), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return 1;
  results = new (p) shared_results();
  hive::options opts;
  opts.host = "127.0.0.1";
  opts.port = 0;
  opts.workers = 2;
  hive::app app;
  hive::cluster cluster(app, opts);
  static std::unique_ptr<publisher> pub;
  cluster.on_worker_start([seconds] {
    if (hive::worker::slot() == 1) subscriber();
    if (hive::worker::slot() == 0) {
      pub = std::make_unique<publisher>(seconds);
      pub->start();
    }
  });
  cluster.on_message([&](hive::worker_handle&, const nlohmann::json& m) {
    if (m.contains("done")) cluster.stop();
  });
  return cluster.run();
}

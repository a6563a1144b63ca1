// hive::worker: thin functions over the worker context the runtime set up.
#include "hive/worker.hpp"

#include <stdexcept>

#include "cluster/worker_context.hpp"

namespace hive::detail {

worker_context*& current_worker() {
  static worker_context* ctx = nullptr;
  return ctx;
}

}  // namespace hive::detail

namespace hive::worker {

using detail::current_worker;

bool in_cluster() { return current_worker() != nullptr; }
int slot() { return current_worker() ? current_worker()->slot : 0; }
int count() { return current_worker() ? current_worker()->count : 1; }

int restarts() {
  auto* w = current_worker();
  if (w == nullptr) return 0;
  return static_cast<int>(w->stats->slot(w->slot).restarts.load(std::memory_order_relaxed));
}

bool send(const nlohmann::json& msg) {
  auto* w = current_worker();
  if (w == nullptr) return false;
  return w->channel->send({{"t", "message"}, {"data", msg}});
}

bool send_to(int to, const nlohmann::json& msg) {
  auto* w = current_worker();
  if (w == nullptr || to < 0 || to >= w->count) return false;
  // The primary forwards it as {"t":"message","from":k,"data":…}: a few bytes more than this
  // envelope, so refuse here what it would have to drop there.
  constexpr std::size_t forward_growth = 16;
  return w->channel->send({{"t", "relay"}, {"to", to}, {"data", msg}}, forward_growth);
}

void on_message(std::function<void(const nlohmann::json&, int)> handler) {
  if (auto* w = current_worker()) w->on_message = std::move(handler);
}

asio::io_context& io() {
  auto* w = current_worker();
  if (w == nullptr) {
    throw std::logic_error("hive::worker::io(): not in a cluster worker (--workers 0 or hive::serve)");
  }
  return *w->io;
}

hive::stats stats() {
  auto* w = current_worker();
  return w == nullptr ? hive::stats{} : w->stats->sum();
}

}  // namespace hive::worker

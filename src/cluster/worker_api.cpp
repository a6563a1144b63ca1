// hive::worker: thin functions over the worker context the runtime set up, or, outside a
// cluster, over the servers of this process.
#include "hive/worker.hpp"

#include <algorithm>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "cluster/worker_context.hpp"
#include "net/server_core.hpp"
#include "util/log.hpp"

namespace hive::detail {

worker_context*& current_worker() {
  static worker_context* ctx = nullptr;
  return ctx;
}

namespace {

struct local_servers {
  std::mutex mu;
  std::vector<server_core*> list;  // in order of construction
};

local_servers& locals() {
  static local_servers l;
  return l;
}

asio::io_context& local_io() {
  auto& l = locals();
  std::lock_guard lock(l.mu);
  if (l.list.empty()) {
    throw std::logic_error(
        "hive::worker::io(): no hive server in this process yet; call it from a start hook, a "
        "handler or once a hive::server exists");
  }
  // The loop running on this thread (an embedding program's io.run()) …
  for (server_core* s : l.list) {
    if (s->io().get_executor().running_in_this_thread()) return s->io();
  }
  // … or the only one there is (hive::serve runs its loop itself, and before io.run() nothing
  // runs on it).
  asio::io_context& first = l.list.front()->io();
  const bool one = std::all_of(l.list.begin(), l.list.end(),
                               [&](server_core* s) { return &s->io() == &first; });
  if (!one) {
    throw std::logic_error(
        "hive::worker::io(): the servers of this process run on several io_contexts; call it "
        "from the loop of the one you mean");
  }
  return first;
}

hive::stats local_stats() {
  auto& l = locals();
  std::lock_guard lock(l.mu);
  hive::stats s;
  for (const server_core* c : l.list) c->stats().add_to(s);
  s.workers = l.list.empty() ? 0 : 1;
  return s;
}

}  // namespace

void complete_request(worker_context& w, std::uint64_t id, worker::request_error err, const nlohmann::json& reply) {
  auto it = w.pending.find(id);
  if (it == w.pending.end()) return;  // timed out already: a late reply
  worker::reply_handler h = std::move(it->second.on_reply);
  w.pending.erase(it);  // cancels the timer
  try {
    h(err, reply);
  } catch (const std::exception& e) {
    warn("a reply handler threw: ", e.what());
  }
}

void fail_requests(worker_context& w, worker::request_error err) {
  while (!w.pending.empty()) complete_request(w, w.pending.begin()->first, err, nullptr);
}

void add_local_server(server_core* s) {
  auto& l = locals();
  std::lock_guard lock(l.mu);
  l.list.push_back(s);
}

int for_each_local_server(const std::function<void(const server_core&)>& f) {
  auto& l = locals();
  std::lock_guard lock(l.mu);
  for (const server_core* c : l.list) f(*c);
  return static_cast<int>(l.list.size());
}

void remove_local_server(server_core* s) {
  auto& l = locals();
  std::lock_guard lock(l.mu);
  std::erase(l.list, s);
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

bool request(const nlohmann::json& msg, std::chrono::milliseconds timeout, reply_handler on_reply) {
  auto* w = current_worker();
  if (w == nullptr || !on_reply) return false;
  const std::uint64_t id = w->next_request_id++;
  if (!w->channel->send({{"t", "request"}, {"id", id}, {"data", msg}})) return false;
  auto timer = std::make_unique<asio::steady_timer>(*w->io, timeout);
  timer->async_wait([w, id](const asio::error_code& ec) {
    if (!ec) detail::complete_request(*w, id, request_error::timeout, nullptr);
  });
  w->pending.emplace(id, detail::pending_request{std::move(on_reply), std::move(timer)});
  return true;
}

void subscribe(const std::string& topic, std::function<void(const nlohmann::json&)> handler) {
  auto* w = current_worker();
  if (w == nullptr || !handler) return;
  auto& list = w->subscriptions[topic];
  if (list.empty()) w->channel->send({{"t", "sub"}, {"topic", topic}});
  list.push_back(std::move(handler));
}

void unsubscribe(const std::string& topic) {
  auto* w = current_worker();
  if (w == nullptr) return;
  // Erased, not emptied: a worker whose topics come and go (WebSocket rooms) must not grow.
  if (w->subscriptions.erase(topic) != 0) w->channel->send({{"t", "unsub"}, {"topic", topic}});
}

bool publish(const std::string& topic, const nlohmann::json& msg) {
  auto* w = current_worker();
  if (w == nullptr) return false;
  // Forwarded as {"t":"event",…}: two bytes more than this envelope.
  constexpr std::size_t forward_growth = 8;
  return w->channel->send({{"t", "pub"}, {"topic", topic}, {"data", msg}}, forward_growth);
}

void on_message(std::function<void(const nlohmann::json&, int)> handler) {
  if (auto* w = current_worker()) w->on_message = std::move(handler);
}

asio::io_context& io() {
  if (auto* w = current_worker()) return *w->io;
  return detail::local_io();
}

hive::stats stats() {
  if (auto* w = current_worker()) return w->stats->sum();
  return detail::local_stats();
}

}  // namespace hive::worker

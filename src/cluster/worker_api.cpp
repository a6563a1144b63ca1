// hive::worker: thin functions over the worker context the runtime set up, or, outside a
// cluster, over the servers of this process.
#include "hive/worker.hpp"

#include <algorithm>
#include <map>
#include <mutex>
#include <stdexcept>
#include <vector>

#include <asio/post.hpp>

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

// Outside a cluster, pub/sub and request_worker stay in this process. Subscriptions remember the
// loop they were made on (embedding programs may run servers on several threads).
struct local_subscription {
  asio::io_context* io;  // null: no server existed yet; delivered at once
  std::shared_ptr<std::function<void(const nlohmann::json&)>> handler;
};
struct local_bus {
  std::mutex mu;
  std::map<std::string, std::vector<local_subscription>, std::less<>> topics;
  std::shared_ptr<std::function<void(const nlohmann::json&, int, worker::reply_fn)>> on_request;
};

local_bus& bus() {
  static local_bus b;
  return b;
}

asio::io_context* local_io_or_null() {
  try {
    return &local_io();
  } catch (const std::logic_error&) {
    return nullptr;
  }
}

template <class F>
void run_guarded(const char* what, F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    warn(what, " threw: ", e.what());
  }
}

void local_publish(const std::string& topic, const nlohmann::json& msg) {
  std::vector<local_subscription> subs;
  {
    std::lock_guard lock(bus().mu);
    const auto it = bus().topics.find(topic);
    if (it == bus().topics.end()) return;
    subs = it->second;
  }
  for (const auto& s : subs) {
    if (s.io == nullptr) {
      run_guarded("a subscription handler", [&] { (*s.handler)(msg); });
      continue;
    }
    asio::post(*s.io, [h = s.handler, msg] { run_guarded("a subscription handler", [&] { (*h)(msg); }); });
  }
}

// request_worker(0, …) in a single process: the handler runs on this loop, as a worker's would.
bool local_request(const nlohmann::json& msg, std::chrono::milliseconds timeout, worker::reply_handler on_reply) {
  asio::io_context* io = local_io_or_null();
  if (io == nullptr) return false;
  struct pending {
    explicit pending(asio::io_context& io) : timer(io) {}
    asio::steady_timer timer;
    worker::reply_handler on_reply;
    void finish(worker::request_error err, const nlohmann::json& reply) {
      if (!on_reply) return;
      auto h = std::move(on_reply);
      on_reply = nullptr;
      timer.cancel();
      run_guarded("a reply handler", [&] { h(err, reply); });
    }
  };
  auto p = std::make_shared<pending>(*io);
  p->on_reply = std::move(on_reply);
  p->timer.expires_after(timeout);
  p->timer.async_wait([p](const asio::error_code& ec) {
    if (!ec) p->finish(worker::request_error::timeout, nullptr);
  });
  std::shared_ptr<std::function<void(const nlohmann::json&, int, worker::reply_fn)>> h;
  {
    std::lock_guard lock(bus().mu);
    h = bus().on_request;
  }
  asio::post(*io, [p, h, msg, io] {
    using e = worker::request_error;
    if (!h) return p->finish(e::no_handler, nullptr);
    try {
      (*h)(msg, 0, [p, io](const nlohmann::json& reply) {
        asio::post(*io, [p, reply] { p->finish(e::ok, reply); });
      });
    } catch (const std::exception& ex) {
      warn("a request handler threw: ", ex.what());
      p->finish(e::handler_failed, nullptr);
    }
  });
  return true;
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

namespace {
// Sends `envelope` (with a fresh id) and waits for the matching reply or the timeout.
bool start_request(detail::worker_context& w, nlohmann::json envelope, std::size_t headroom,
                   std::chrono::milliseconds timeout, reply_handler on_reply) {
  const std::uint64_t id = w.next_request_id++;
  envelope["id"] = id;
  if (!w.channel->send(envelope, headroom)) return false;
  auto timer = std::make_unique<asio::steady_timer>(*w.io, timeout);
  timer->async_wait([&w, id](const asio::error_code& ec) {
    if (!ec) detail::complete_request(w, id, request_error::timeout, nullptr);
  });
  w.pending.emplace(id, detail::pending_request{std::move(on_reply), std::move(timer)});
  return true;
}
}  // namespace

bool request(const nlohmann::json& msg, std::chrono::milliseconds timeout, reply_handler on_reply) {
  auto* w = current_worker();
  if (w == nullptr || !on_reply) return false;
  return start_request(*w, {{"t", "request"}, {"data", msg}}, 0, timeout, std::move(on_reply));
}

bool request_worker(int to, const nlohmann::json& msg, std::chrono::milliseconds timeout, reply_handler on_reply) {
  if (!on_reply) return false;
  auto* w = current_worker();
  if (w == nullptr) return to == 0 && detail::local_request(msg, timeout, std::move(on_reply));
  if (to < 0 || to >= w->count) return false;
  // The primary forwards {"t":"asked","from":k,"pid":p,"id":n,"data":…}: a few bytes more than
  // this envelope, so refuse here what it would have to drop there.
  constexpr std::size_t forward_growth = 32;
  const auto ms = std::max<std::int64_t>(timeout.count(), 0);
  return start_request(*w, {{"t", "ask"}, {"to", to}, {"ms", ms}, {"data", msg}}, forward_growth, timeout,
                       std::move(on_reply));
}

void on_request(std::function<void(const nlohmann::json&, int, reply_fn)> handler) {
  if (auto* w = current_worker()) {
    w->on_request = std::move(handler);
    return;
  }
  auto h = handler ? std::make_shared<std::function<void(const nlohmann::json&, int, reply_fn)>>(std::move(handler))
                   : nullptr;
  std::lock_guard lock(detail::bus().mu);
  detail::bus().on_request = std::move(h);
}

void subscribe(const std::string& topic, std::function<void(const nlohmann::json&)> handler) {
  if (!handler) return;
  auto* w = current_worker();
  if (w == nullptr) {
    detail::local_subscription s{detail::local_io_or_null(),
                                 std::make_shared<std::function<void(const nlohmann::json&)>>(std::move(handler))};
    std::lock_guard lock(detail::bus().mu);
    detail::bus().topics[topic].push_back(std::move(s));
    return;
  }
  auto& list = w->subscriptions[topic];
  if (list.empty()) w->channel->send_control({{"t", "sub"}, {"topic", topic}});
  list.push_back(std::move(handler));
}

void unsubscribe(const std::string& topic) {
  auto* w = current_worker();
  if (w == nullptr) {
    // In this process: the handlers subscribed from this loop (another thread's server keeps its own).
    asio::io_context* io = detail::local_io_or_null();
    std::lock_guard lock(detail::bus().mu);
    const auto it = detail::bus().topics.find(topic);
    if (it == detail::bus().topics.end()) return;
    std::erase_if(it->second, [io](const detail::local_subscription& s) { return s.io == io; });
    if (it->second.empty()) detail::bus().topics.erase(it);
    return;
  }
  // Erased, not emptied: a worker whose topics come and go (WebSocket rooms) must not grow.
  if (w->subscriptions.erase(topic) != 0) w->channel->send_control({{"t", "unsub"}, {"topic", topic}});
}

bool publish(const std::string& topic, const nlohmann::json& msg) {
  auto* w = current_worker();
  if (w == nullptr) {
    if (topic.size() > 0xffff ||
        msg.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).size() > max_message_bytes) {
      return false;
    }
    detail::local_publish(topic, msg);
    return true;
  }
  // The primary passes these very bytes on to each subscriber.
  auto event = detail::ipc_channel::make_event(topic, msg);
  return event && w->channel->send_serialized(std::move(event));
}

void on_message(std::function<void(const nlohmann::json&, int)> handler) {
  if (auto* w = current_worker()) w->on_message = std::move(handler);
}

std::uint64_t messages_dropped() {
  auto* w = current_worker();
  if (w == nullptr) return 0;
  return w->stats->slot(w->slot).messages_dropped.load(std::memory_order_relaxed);
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

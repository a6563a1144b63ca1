// The primary's side of the worker channels: control messages, user messages, relays, and the
// Node-like API over them (send, broadcast, workers).
#include <algorithm>
#include <memory>

#include <asio/post.hpp>

#include "cluster/primary.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"

namespace hive::detail {

void primary::on_message(proc& p, nlohmann::json&& m) {
  const std::string& t = m["t"].get_ref<const std::string&>();
  if (t == "online") {
    emit(hooks_.online, *p.handle);
  } else if (t == "listening") {
    on_listening(p);
  } else if (t == "message") {
    const auto data = m.find("data");
    if (data == m.end()) return;
    emit(hooks_.message, *p.handle, *data);
  } else if (t == "relay") {
    const auto to = m.find("to");
    const auto data = m.find("data");
    if (to == m.end() || !to->is_number_integer() || data == m.end() || *to < 0 ||
        *to >= static_cast<int>(slots_.size())) {
      warn("dropped a relay from ", who(p), " with no valid \"to\" slot");
      return;
    }
    const int k = to->get<int>();
    proc* target = slots_[static_cast<std::size_t>(k)].current;
    if (target == nullptr || !target->channel->is_open()) {
      warn("dropped a message from ", who(p), " to slot ", k, ": no worker serves it now");
      return;
    }
    target->channel->send({{"t", "message"}, {"from", p.handle->slot()}, {"data", *data}});
  } else if (t == "sub") {
    const auto topic = m.find("topic");
    if (topic != m.end() && topic->is_string()) p.topics.insert(topic->get<std::string>());
  } else if (t == "unsub") {
    const auto topic = m.find("topic");
    if (topic != m.end() && topic->is_string()) p.topics.erase(topic->get_ref<const std::string&>());
  } else if (t == "pub") {
    const auto topic = m.find("topic");
    const auto data = m.find("data");
    if (topic == m.end() || !topic->is_string() || data == m.end()) {
      warn("dropped a publish from ", who(p), " with no topic or data");
      return;
    }
    m["t"] = "event";
    deliver(m);
  } else if (t == "request") {
    on_request(p, std::move(m));
  } else if (t == "pong") {
    // liveness is the heartbeat's job; a pong only shows the channel works
  } else {
    warn("dropped a message of unknown type '", t, "' from ", who(p));
  }
}

// {"t":"request","id":N,"data":…} → {"t":"reply","id":N,"data":…} or {…,"error":"…"}.
void primary::on_request(proc& p, nlohmann::json&& m) {
  const auto id = m.find("id");
  const auto data = m.find("data");
  if (id == m.end() || !id->is_number_unsigned() || data == m.end()) {
    warn("dropped a request from ", who(p), " with no id or data");
    return;
  }
  const pid_t pid = p.handle->pid();
  const std::uint64_t n = id->get<std::uint64_t>();
  // Sends the error, or the reply (then, if it is too large, the error instead). Once.
  auto answer = [this, pid, n, done = std::make_shared<bool>(false)](const nlohmann::json* reply, const char* error) {
    if (*done) return;
    *done = true;
    auto it = procs_.find(pid);
    if (it == procs_.end() || !it->second->channel->is_open()) return;
    ipc_channel& ch = *it->second->channel;
    if (reply != nullptr && ch.send({{"t", "reply"}, {"id", n}, {"data", *reply}})) return;
    ch.send({{"t", "reply"}, {"id", n}, {"error", reply != nullptr ? "handler_failed" : error}});
  };
  if (!hooks_.request) return answer(nullptr, "no_handler");
  try {
    hooks_.request(*p.handle, *data, [answer](const nlohmann::json& reply) mutable { answer(&reply, nullptr); });
  } catch (const std::exception& e) {
    report_handler_error(e);
    answer(nullptr, "handler_failed");
  }
}

void primary::deliver(const nlohmann::json& event) {
  const auto& topic = event["topic"].get_ref<const std::string&>();
  const std::int64_t now = monotonic_ms();
  for (auto& [pid, p] : procs_) {
    if (!p->topics.contains(topic) || !p->channel->is_open()) continue;
    if (!p->channel->send(event, 0, /*log_drop=*/false)) ++p->dropped;
    // A subscriber that cannot keep up: one line a second with the count, not one per message.
    if (p->dropped > 0 && now - p->dropped_logged_ms >= 1000) {
      warn("dropped ", p->dropped, " published message(s) to ", who(*p), ": it is not reading fast enough");
      p->dropped = 0;
      p->dropped_logged_ms = now;
    }
  }
}

void primary::publish(nlohmann::json event) {
  asio::post(io_, [this, e = std::move(event)] { deliver(e); });
}

void primary::on_listening(proc& p) {
  if (p.handle->listening_) return;
  p.handle->listening_ = true;
  emit(hooks_.listening, *p.handle);
  if (p.r == role::replacement) reload_listening(p);
  if (p.r == role::serving) reload_resume(p.handle->slot());
  // The board first: once "listening on" is logged and READY=1 sent, /readyz must say 200.
  update_board();
  maybe_announce();
}

void primary::on_disconnect(pid_t pid) {
  auto it = procs_.find(pid);
  if (it == procs_.end() || it->second->disconnected) return;
  it->second->disconnected = true;
  emit(hooks_.disconnect, *it->second->handle);
}

bool primary::send(const worker_handle& w, const nlohmann::json& msg) {
  auto it = procs_.find(w.pid());
  if (it == procs_.end()) return false;
  return it->second->channel->send({{"t", "message"}, {"from", -1}, {"data", msg}});
}

void primary::broadcast(const nlohmann::json& msg) {
  asio::post(io_, [this, m = nlohmann::json{{"t", "message"}, {"from", -1}, {"data", msg}}] {
    for (auto& [pid, p] : procs_) {
      if (p->r == role::serving || p->r == role::replacement) p->channel->send(m);
    }
  });
}

std::vector<worker_handle*> primary::workers() {
  std::vector<worker_handle*> out;
  for (auto& [pid, p] : procs_) {
    if (p->r == role::serving || p->r == role::replacement) out.push_back(p->handle.get());
  }
  std::sort(out.begin(), out.end(), [](const worker_handle* a, const worker_handle* b) {
    return a->slot() != b->slot() ? a->slot() < b->slot() : a->id() < b->id();
  });
  return out;
}

void primary::reload() {
  asio::post(io_, [this] { start_reload("reload()"); });
}

void primary::stop() {
  asio::post(io_, [this] { begin_stop("stop()"); });
}

}  // namespace hive::detail

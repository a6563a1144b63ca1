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
    on_relay(p, m);
  } else if (t == "ask") {
    on_ask(p, std::move(m));
  } else if (t == "answer") {
    on_answer(p, std::move(m));
  } else if (t == "draining") {
    // It drains on a SIGTERM of its own (an operator recycling it): its clean exit is no crash.
    if (!stopping_) p.recycling = true;
  } else if (t == "sub") {
    const auto topic = m.find("topic");
    if (topic != m.end() && topic->is_string()) p.topics.insert(topic->get<std::string>());
  } else if (t == "unsub") {
    const auto topic = m.find("topic");
    if (topic != m.end() && topic->is_string()) p.topics.erase(topic->get_ref<const std::string&>());
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

// The slot a relay or an ask names, or -1 (logged, at most once a second).
namespace {
int slot_named(const nlohmann::json& m, std::size_t slots) {
  const auto to = m.find("to");
  if (to == m.end() || !to->is_number_integer() || *to < 0 || *to >= static_cast<int>(slots)) return -1;
  return to->get<int>();
}
}  // namespace

void primary::on_relay(proc& p, const nlohmann::json& m) {
  const auto data = m.find("data");
  const int k = slot_named(m, slots_.size());
  if (k < 0 || data == m.end()) {
    if (auto held = p.relay_log.allow(monotonic_ms())) warn("dropped a relay from ", who(p), " with no valid \"to\" slot", held->text());
    return;
  }
  proc* target = slots_[static_cast<std::size_t>(k)].current;
  if (target == nullptr || !target->channel->is_open()) {
    if (auto held = p.relay_log.allow(monotonic_ms())) {
      warn("dropped a message from ", who(p), " to slot ", k, ": no worker serves it now", held->text());
    }
    return;
  }
  forward(*target, {{"t", "message"}, {"from", p.handle->slot()}, {"data", *data}});
}

// request_worker: {"t":"ask","to":k,"id":n,"ms":timeout,"data":…} from the asker, passed on to
// slot k's worker as {"t":"asked","from":slot,"pid":asker,"id":n,"data":…}. Its answer comes
// back through on_answer; if it exits first, fail_asked answers for it.
void primary::on_ask(proc& p, nlohmann::json&& m) {
  const auto id = m.find("id");
  const auto data = m.find("data");
  const auto ms = m.find("ms");
  const int k = slot_named(m, slots_.size());
  if (id == m.end() || !id->is_number_unsigned() || data == m.end()) {
    warn("dropped a request from ", who(p), " with no id or data");
    return;
  }
  const pid_t asker = p.handle->pid();
  const std::uint64_t n = id->get<std::uint64_t>();
  proc* target = k < 0 ? nullptr : slots_[static_cast<std::size_t>(k)].current;
  if (target == nullptr || !target->channel->is_open()) return reply_error(asker, n, "peer_gone");
  const std::int64_t now = monotonic_ms();
  // Forget asks their askers gave up on long ago (a handler that never replies), so the table
  // stays as small as the requests in flight.
  if (target->asked.size() >= 256) std::erase_if(target->asked, [now](const auto& e) { return e.second < now; });
  const std::int64_t wait = ms != m.end() && ms->is_number_integer() ? std::max<std::int64_t>(ms->get<std::int64_t>(), 0) : 0;
  nlohmann::json out{{"t", "asked"}, {"from", p.handle->slot()}, {"pid", asker}, {"id", n}};
  out["data"] = std::move(*data);
  if (!forward(*target, out)) return reply_error(asker, n, "not_delivered");
  target->asked[{asker, n}] = now + wait + 1000;
}

void primary::on_answer(proc& p, nlohmann::json&& m) {
  const auto id = m.find("id");
  const auto pid = m.find("pid");
  if (id == m.end() || !id->is_number_unsigned() || pid == m.end() || !pid->is_number_integer()) return;
  const auto key = std::make_pair(pid->get<pid_t>(), id->get<std::uint64_t>());
  if (p.asked.erase(key) == 0) return;  // the asker stopped waiting long ago, or never asked
  auto it = procs_.find(key.first);
  if (it == procs_.end() || !it->second->channel->is_open()) return;  // the asker is gone
  nlohmann::json out{{"t", "reply"}, {"id", key.second}};
  if (const auto data = m.find("data"); data != m.end()) {
    out["data"] = std::move(*data);
  } else {
    const auto error = m.find("error");
    out["error"] = error != m.end() && error->is_string() ? *error : nlohmann::json("handler_failed");
  }
  forward(*it->second, out);
}

void primary::fail_asked(proc& p) {
  const auto asked = std::move(p.asked);
  p.asked.clear();
  for (const auto& [key, deadline] : asked) reply_error(key.first, key.second, "peer_gone");
}

void primary::reply_error(pid_t asker, std::uint64_t id, const char* error) {
  auto it = procs_.find(asker);
  if (it == procs_.end() || !it->second->channel->is_open()) return;
  forward(*it->second, {{"t", "reply"}, {"id", id}, {"error", error}});
}

bool primary::forward(proc& to, const ipc_channel::bytes& msg) {
  if (!to.channel->is_open()) return false;
  if (msg->size() > worker::max_message_bytes) return to.channel->send_serialized(msg);  // refused, logged
  if (to.channel->send_serialized(msg, /*log_drop=*/false)) return true;
  stats_->slot(to.handle->slot()).messages_dropped.fetch_add(1, std::memory_order_relaxed);
  ++to.dropped;
  // A worker that cannot keep up: one line a second with the count, not one per message.
  const std::int64_t now = monotonic_ms();
  if (now - to.dropped_logged_ms >= 1000) {
    warn("dropped ", to.dropped, " message(s) to ", who(to),
         " (published, relayed, broadcast or replies): it is not reading fast enough");
    to.dropped = 0;
    to.dropped_logged_ms = now;
  }
  return false;
}

void primary::deliver(proc* from, const ipc_channel::bytes& event) {
  std::string_view topic, json;
  if (!ipc_channel::read_event(*event, topic, json)) {
    if (from == nullptr) return;
    if (auto held = from->relay_log.allow(monotonic_ms())) warn("dropped a malformed event from ", who(*from), held->text());
    return;
  }
  for (auto& [pid, p] : procs_) {
    if (p->topics.contains(topic) && p->channel->is_open()) forward(*p, event);
  }
}

void primary::publish(const std::string& topic, const nlohmann::json& msg) {
  auto e = ipc_channel::make_event(topic, msg);
  if (!e) return;
  asio::post(io_, [this, e = std::move(e)] { deliver(nullptr, e); });
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
  fail_asked(*it->second);
  emit(hooks_.disconnect, *it->second->handle);
}

bool primary::send(const worker_handle& w, const nlohmann::json& msg) {
  auto it = procs_.find(w.pid());
  if (it == procs_.end()) return false;
  return forward(*it->second, {{"t", "message"}, {"from", -1}, {"data", msg}});
}

void primary::broadcast(const nlohmann::json& msg) {
  asio::post(io_, [this, m = ipc_channel::serialize({{"t", "message"}, {"from", -1}, {"data", msg}})] {
    for (auto& [pid, p] : procs_) {
      if (p->r == role::serving || p->r == role::replacement) forward(*p, m);
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

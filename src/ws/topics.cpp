#include "ws/topics.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <unordered_map>
#include <vector>

#include "hive/cluster.hpp"
#include "hive/worker.hpp"
#include "util/log.hpp"
#include "ws/frame.hpp"
#include "ws/handshake.hpp"
#include "ws/ws_session.hpp"

namespace hive::detail {

namespace {

// The cluster topic a WebSocket topic travels on: apart from the application's own topics.
std::string ws_cluster_topic(std::string_view topic) { return "hive.ws:" + std::string(topic); }

struct ws_topic {
  std::vector<ws_session*> subscribers;
  bool bridged = false;  // the worker subscribed to its cluster topic (undone with the last subscriber)
};

struct ws_topic_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// Per thread: each worker loop (and each embedded server's thread) has its own connections.
std::unordered_map<std::string, ws_topic, ws_topic_hash, std::equal_to<>>& ws_topics() {
  thread_local std::unordered_map<std::string, ws_topic, ws_topic_hash, std::equal_to<>> t;
  return t;
}

void ws_deliver_local(std::string_view topic, std::string_view message, ws_opcode op) {
  auto& all = ws_topics();
  auto it = all.find(topic);
  if (it == all.end() || it->second.subscribers.empty()) return;
  ws_published m{message, op, {}, {}};
  // A copy: a send never runs user code, but keep the walk safe against any later change.
  const auto subs = it->second.subscribers;
  for (ws_session* s : subs) s->send_published(m);
}

nlohmann::json ws_encode(std::string_view message, ws_opcode op) {
  if (op == ws_opcode::text) return {{"o", 1}, {"m", message}};
  return {{"o", 2}, {"m", base64_encode(message)}};
}

void ws_on_cluster_message(const std::string& topic, const nlohmann::json& msg) {
  const auto o = msg.find("o");
  const auto m = msg.find("m");
  if (o == msg.end() || m == msg.end() || !m->is_string()) return;
  const auto& text = m->get_ref<const std::string&>();
  if (*o == 1) {
    ws_deliver_local(topic, text, ws_opcode::text);
    return;
  }
  std::string bytes;
  if (base64_decode(text, bytes)) ws_deliver_local(topic, bytes, ws_opcode::binary);
}

}  // namespace

void topic_add(std::string_view topic, ws_session* s) {
  auto& all = ws_topics();
  auto it = all.find(topic);
  if (it == all.end()) it = all.emplace(std::string(topic), ws_topic{}).first;
  it->second.subscribers.push_back(s);
  if (it->second.bridged || !worker::in_cluster()) return;
  it->second.bridged = true;
  worker::subscribe(ws_cluster_topic(topic), [t = std::string(topic)](const nlohmann::json& msg) {
    ws_on_cluster_message(t, msg);
  });
}

void topic_remove(std::string_view topic, ws_session* s) {
  auto& all = ws_topics();
  auto it = all.find(topic);
  if (it == all.end()) return;
  auto& v = it->second.subscribers;
  for (auto& p : v) {
    if (p != s) continue;
    p = v.back();
    v.pop_back();
    break;
  }
  // A topic nobody here subscribes to is forgotten, and the primary stops sending it here: a
  // worker whose rooms come and go keeps nothing of them.
  if (!v.empty()) return;
  if (it->second.bridged) worker::unsubscribe(ws_cluster_topic(topic));
  all.erase(it);
}

}  // namespace hive::detail

namespace hive {

bool ws_publish(std::string_view topic, std::string_view message, ws_opcode op) {
  if (op == ws_opcode::text && !detail::valid_utf8(message.data(), message.size())) return false;
  if (worker::in_cluster()) {
    // Through the primary, which relays to every subscribed worker, this one included: one
    // order for everyone.
    return worker::publish(detail::ws_cluster_topic(topic), detail::ws_encode(message, op));
  }
  detail::ws_deliver_local(topic, message, op);
  return true;
}

void ws_publish(cluster& c, std::string_view topic, std::string_view message, ws_opcode op) {
  if (op == ws_opcode::text && !detail::valid_utf8(message.data(), message.size())) return;
  c.publish(detail::ws_cluster_topic(topic), detail::ws_encode(message, op));
}

std::size_t detail::ws_topic_count() { return detail::ws_topics().size(); }

std::size_t ws_subscribers(std::string_view topic) {
  auto& all = detail::ws_topics();
  auto it = all.find(topic);
  return it == all.end() ? 0 : it->second.subscribers.size();
}

}  // namespace hive

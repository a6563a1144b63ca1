// hive WebSocket (RFC 6455): `app.ws(path, behaviour)` serves WebSocket connections on a path,
// each with user data of your type; topics deliver a publish to every subscribed connection in
// every worker of the cluster.
//
//   struct user { std::string name; };
//   app.ws<user>("/chat", {
//       .upgrade = [](const hive::request& req, hive::ws_upgrade& up, user& u) {
//         if (!req.query("name")) return up.refuse(401, "a name is required");
//         u.name = *req.query("name");
//       },
//       .open = [](hive::websocket<user>& ws) { ws.subscribe("chat"); },
//       .message = [](hive::websocket<user>& ws, std::string_view msg, hive::ws_opcode op) {
//         ws.publish("chat", msg, op);  // to every subscriber on every worker
//       },
//   });
//
// Every callback runs on the worker's loop. A websocket<U>& stays valid from open until close
// returns; keep a pointer to it no longer than that.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hive/app.hpp"
#include "hive/request.hpp"

namespace hive {

class cluster;

namespace detail {
class ws_session;
}

enum class ws_opcode : std::uint8_t { text = 1, binary = 2 };

// What send() did with a message.
enum class ws_send : std::uint8_t {
  sent,      // queued; the connection's send buffer is under max_backpressure_bytes
  buffered,  // queued, but the buffer is past max_backpressure_bytes: wait for drain
  dropped,   // not queued: the connection is closing, or past max_buffered_bytes (it is closed)
};

// Limits and timers of one WebSocket route.
struct ws_settings {
  std::size_t max_message_bytes = 16 * 1024 * 1024;  // a larger message is refused with 1009
  std::size_t max_frame_bytes = 16 * 1024 * 1024;    // a larger frame is refused with 1009
  std::size_t max_backpressure_bytes = 1024 * 1024;  // send() says `buffered` past it; drain under it
  // A slow consumer: a connection whose send buffer would pass this is closed (a message sent
  // while nothing is buffered is always taken, however large).
  std::size_t max_buffered_bytes = 16 * 1024 * 1024;
  // Nothing from the client this long: ping it (send_pings) or close. Zero: no idle timeout.
  std::chrono::milliseconds idle_timeout{120'000};
  std::chrono::milliseconds pong_timeout{10'000};   // no frame after the idle ping: closed (1006)
  std::chrono::milliseconds close_timeout{1'000};   // after our close frame, wait this long for the reply
  bool send_pings = true;
  // Origins allowed to open this WebSocket (cross-site WebSocket hijacking: a browser sends its
  // cookies with a handshake any page starts). Empty: the server's own origin only (the Origin's
  // host equal to Host); {"*"}: any; else exact origins ("https://app.example"). A handshake with
  // no Origin (not a browser) always passes; a refused one gets 403.
  std::vector<std::string> allowed_origins;
  // permessage-deflate (RFC 7692), used when the client offers it (browsers, Python's websockets
  // and Node's ws do). Off by default: it costs CPU, and with context takeover a zlib stream per
  // connection and direction (about 32 KiB to inflate, 256 KiB to deflate) once it is used.
  bool deflate = false;
  // Messages shorter than this are sent uncompressed: compressing them would not pay.
  std::size_t deflate_min_bytes = 64;
  // The LZ77 window (9..15 bits) we compress with, and ask clients that allow it to use.
  std::uint8_t deflate_window_bits = 15;
  // Keep each side's compression context from message to message (better ratio on similar
  // messages). False: each message is compressed alone (server_ and client_no_context_takeover)
  // with the worker's shared zlib streams: no zlib memory per connection, and a publish is
  // compressed once for all its subscribers instead of once per subscriber.
  bool deflate_context_takeover = true;
  // Incoming compressed messages are inflated up to max_message_bytes: past it, 1009 (zip bombs).
};

// The upgrade step, before `101`: read the request, pick a subprotocol, or refuse.
class ws_upgrade {
 public:
  // Sec-WebSocket-Protocol's tokens, in the client's order.
  std::span<const std::string_view> offered_protocols() const { return offered_; }
  // Answers with one of the offered subprotocols (std::invalid_argument for any other).
  void select_protocol(std::string_view p);
  // No upgrade: hive answers `status` (400..599: 401, 403 …) with `message` as the body.
  void refuse(int status, std::string message);

  std::string_view selected_protocol() const { return selected_; }
  int refused_status() const { return refused_; }
  const std::string& refused_message() const { return message_; }

  explicit ws_upgrade(std::vector<std::string_view> offered) : offered_(std::move(offered)) {}

 private:
  std::vector<std::string_view> offered_;
  std::string_view selected_;
  int refused_ = 0;
  std::string message_;
};

// One WebSocket connection, as the callbacks see it (websocket<U> adds the user data).
class websocket_base {
 public:
  virtual ~websocket_base() = default;
  websocket_base(const websocket_base&) = delete;
  websocket_base& operator=(const websocket_base&) = delete;

  ws_send send(std::string_view message, ws_opcode op = ws_opcode::text);
  // Starts the close handshake: `code` 1000, 1001, 1003, 1007..1014 or 3000..4999 (other codes
  // throw std::invalid_argument), `reason` at most 123 bytes of UTF-8. Then close() is called.
  void close(std::uint16_t code = 1000, std::string_view reason = {});
  // False when already subscribed (subscribe) or not subscribed (unsubscribe).
  bool subscribe(std::string_view topic);
  bool unsubscribe(std::string_view topic);
  bool subscribed(std::string_view topic) const;
  // To every subscriber of `topic` on every worker, this connection included if it subscribed.
  // False when it cannot be sent (see hive::ws_publish).
  bool publish(std::string_view topic, std::string_view message, ws_opcode op = ws_opcode::text);
  // Bytes queued and not yet written to the socket.
  std::size_t buffered_bytes() const;
  // The subprotocol selected at the upgrade ("" for none).
  std::string_view protocol() const;
  const address& remote_address() const;

 protected:
  websocket_base() = default;

 private:
  friend class detail::ws_session;
  detail::ws_session* s_ = nullptr;
};

template <class UserData>
class websocket final : public websocket_base {
 public:
  websocket() = default;
  UserData& data() { return data_; }
  const UserData& data() const { return data_; }

 private:
  UserData data_{};
};

// What a WebSocket route does. Every callback is optional; `message` defaults to ignoring.
template <class UserData>
struct ws_behaviour {
  ws_settings settings{};
  // Before `101`: may refuse (up.refuse) or select a subprotocol, and fills the user data.
  std::function<void(const request& req, ws_upgrade& up, UserData& data)> upgrade;
  std::function<void(websocket<UserData>& ws)> open;
  std::function<void(websocket<UserData>& ws, std::string_view message, ws_opcode op)> message;
  // The send buffer fell back under max_backpressure_bytes after a send said `buffered`.
  std::function<void(websocket<UserData>& ws)> drain;
  // Once per connection that opened: the close code received (1005 for none), the one hive sent
  // for a protocol error, or 1006 when the connection ended without a close handshake.
  std::function<void(websocket<UserData>& ws, int code, std::string_view reason)> close;
};

// From anywhere on a worker's loop (handlers, timers, WebSocket callbacks): `message` to every
// subscriber of `topic` on every worker. In a cluster the primary relays it, so it is limited
// to about worker::max_message_bytes (binary messages travel base64-encoded); false, nothing
// sent, past it or when the primary is gone. In a single process it is delivered at once.
bool ws_publish(std::string_view topic, std::string_view message, ws_opcode op = ws_opcode::text);
// From the primary (cluster hooks): the same, to every worker's subscribers.
void ws_publish(cluster& c, std::string_view topic, std::string_view message, ws_opcode op = ws_opcode::text);
// How many connections of this worker are subscribed to `topic`.
std::size_t ws_subscribers(std::string_view topic);

namespace detail {

// A behaviour with its user data type erased: what the route keeps.
struct ws_route {
  ws_settings settings;
  // The connection's handle (websocket<U>) is built inside the session's own allocation: one
  // malloc per WebSocket, not two. `handle_bytes` of room, aligned for std::max_align_t.
  std::size_t handle_bytes = 0;
  websocket_base* (*construct)(void* at) = nullptr;
  std::function<void(const request&, ws_upgrade&, websocket_base&)> upgrade;
  std::function<void(websocket_base&)> open;
  std::function<void(websocket_base&, std::string_view, ws_opcode)> message;
  std::function<void(websocket_base&)> drain;
  std::function<void(websocket_base&, int, std::string_view)> close;
};

template <class U>
std::shared_ptr<ws_route> make_ws_route(ws_behaviour<U> b) {
  auto r = std::make_shared<ws_route>();
  r->settings = b.settings;
  static_assert(alignof(websocket<U>) <= alignof(std::max_align_t),
                "hive: WebSocket user data may not be over-aligned (alignas beyond std::max_align_t)");
  r->handle_bytes = sizeof(websocket<U>);
  r->construct = [](void* at) -> websocket_base* { return ::new (at) websocket<U>(); };
  // Each callback is wrapped only when set: an unset one stays empty and costs nothing.
  if (b.upgrade) {
    r->upgrade = [f = std::move(b.upgrade)](const request& req, ws_upgrade& up, websocket_base& ws) {
      f(req, up, static_cast<websocket<U>&>(ws).data());
    };
  }
  if (b.open) r->open = [f = std::move(b.open)](websocket_base& ws) { f(static_cast<websocket<U>&>(ws)); };
  if (b.message) {
    r->message = [f = std::move(b.message)](websocket_base& ws, std::string_view m, ws_opcode op) {
      f(static_cast<websocket<U>&>(ws), m, op);
    };
  }
  if (b.drain) r->drain = [f = std::move(b.drain)](websocket_base& ws) { f(static_cast<websocket<U>&>(ws)); };
  if (b.close) {
    r->close = [f = std::move(b.close)](websocket_base& ws, int code, std::string_view reason) {
      f(static_cast<websocket<U>&>(ws), code, reason);
    };
  }
  return r;
}

}  // namespace detail

template <class UserData>
app& app::ws(std::string_view path, ws_behaviour<UserData> b) {
  return add_ws(path, detail::make_ws_route(std::move(b)));
}

template <class UserData>
route_group& route_group::ws(std::string_view path, ws_behaviour<UserData> b) {
  return add_ws(path, detail::make_ws_route(std::move(b)));
}

}  // namespace hive

#include "ws/ws_route.hpp"

#include <cctype>
#include <stdexcept>

#include "hive/app.hpp"
#include "hive/http_error.hpp"
#include "ws/deflate.hpp"
#include "ws/handshake.hpp"
#include "ws/ws_session.hpp"

namespace hive::detail {

void ws_handler::operator()(const request& req, response& res) const {
  std::string_view key;
  switch (check_handshake(req, key)) {
    case handshake_check::not_upgrade:
      res.status(426).header("Upgrade", "websocket").text("this is a WebSocket endpoint\n");
      return;
    case handshake_check::bad_version:
      res.status(426).header("Sec-WebSocket-Version", "13").text("WebSocket version 13 only\n");
      return;
    case handshake_check::malformed:
      res.status(400).text("malformed WebSocket handshake\n");
      return;
    case handshake_check::ok:
      // A valid handshake that was not upgraded: the worker is stopping (or HTTP/1.0, refused
      // above as malformed).
      res.status(503).text("the server is going away\n");
      return;
  }
}

namespace {

bool same_text(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

bool origin_allowed(const ws_settings& s, const request& req) {
  const auto origin = req.header("Origin");
  if (!origin) return true;
  for (const auto& o : s.allowed_origins) {
    if (o == "*" || same_text(o, *origin)) return true;
  }
  if (!s.allowed_origins.empty()) return false;
  const auto scheme_end = origin->find("://");
  const auto host = req.header("Host");
  return scheme_end != std::string_view::npos && host && same_text(origin->substr(scheme_end + 3), *host);
}

}  // namespace

std::unique_ptr<protocol> ws_accept(const ws_handler& h, const request& req, response& res) {
  std::string_view key;
  if (check_handshake(req, key) != handshake_check::ok) return nullptr;
  const ws_route& r = *h.route;
  if (!origin_allowed(r.settings, req)) throw http_error(403, "this origin may not open the WebSocket");
  std::vector<std::string_view> offered;
  if (auto p = req.header("Sec-WebSocket-Protocol")) offered = header_tokens(*p);
  ws_upgrade up(std::move(offered));
  auto session = ws_session::create(r, &req.remote_address());
  if (r.upgrade) {
    r.upgrade(req, up, session->handle());
    if (up.refused_status() != 0) throw http_error(up.refused_status(), up.refused_message());
  }
  res.header("Upgrade", "websocket");
  res.header("Sec-WebSocket-Accept", accept_key(key));
  if (!up.selected_protocol().empty()) res.header("Sec-WebSocket-Protocol", up.selected_protocol());
  deflate_params deflate;
  std::string extensions;
  const bool compress = negotiate_deflate(req, r.settings, deflate, extensions);
  if (compress) res.header("Sec-WebSocket-Extensions", extensions);
  session->agreed(std::string(up.selected_protocol()), compress ? &deflate : nullptr);
  return session;
}

}  // namespace hive::detail

namespace hive {

void ws_upgrade::select_protocol(std::string_view p) {
  for (auto o : offered_) {
    if (o == p) {
      selected_ = o;
      return;
    }
  }
  throw std::invalid_argument("hive: WebSocket subprotocol '" + std::string(p) + "' was not offered");
}

void ws_upgrade::refuse(int status, std::string message) {
  refused_ = status < 400 || status > 599 ? 403 : status;
  message_ = std::move(message);
}

app& app::add_ws(std::string_view path, std::shared_ptr<detail::ws_route> r) {
  return get(path, detail::ws_handler{std::move(r)});
}

route_group& route_group::add_ws(std::string_view path, std::shared_ptr<detail::ws_route> r) {
  return route("GET", path, detail::ws_handler{std::move(r)});
}

}  // namespace hive

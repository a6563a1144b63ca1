// A WebSocket route in the router: a GET handler that answers what is not a valid upgrade
// (426, 400), and, for the dispatcher, the upgrade itself (the 101's fields and the protocol
// that takes the connection).
#pragma once

#include <memory>

#include "hive/websocket.hpp"
#include "hive/response.hpp"

namespace hive::detail {

class protocol;

struct ws_handler {
  std::shared_ptr<const ws_route> route;
  // A GET on the path that is not upgraded (no Upgrade, a bad handshake, HTTP/1.0, a worker
  // that is draining).
  void operator()(const request& req, response& res) const;
};

// The upgrade request `req` to `h`'s route: null when it is not a valid handshake (the handler
// then answers it); throws http_error when the application refuses.
std::unique_ptr<protocol> ws_accept(const ws_handler& h, const request& req, response& res);

}  // namespace hive::detail

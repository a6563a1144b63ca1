// hive::route_group — routes under a common path prefix with filters of their own. Made by
// app::group or by another group (nested: prefixes and filters add up, outer first).
//
//   auto api = app.group("/api");
//   api.use(require_token);                       // runs for /api/... only, after the app's
//   api.get("/notes/:id", get_note);              // GET /api/notes/:id
//   auto admin = api.group("/admin");             // /api/admin/..., both groups' filters
//
// A group's filters also run for a 404 or 405 under its prefix (the innermost group's chain).
// Copies refer to the same group; the app must outlive them.
#pragma once

#include <memory>
#include <string_view>

#include "hive/filter.hpp"
#include "hive/router.hpp"

namespace hive {

class app;
namespace detail {
struct ws_route;
}
template <class UserData>
struct ws_behaviour;

class route_group {
 public:
  route_group& use(filter f);
  route_group group(std::string_view prefix);

  route_group& get(std::string_view path, handler h, route_options o = {}) { return route("GET", path, std::move(h), std::move(o)); }
  route_group& post(std::string_view path, handler h, route_options o = {}) { return route("POST", path, std::move(h), std::move(o)); }
  route_group& put(std::string_view path, handler h, route_options o = {}) { return route("PUT", path, std::move(h), std::move(o)); }
  route_group& patch(std::string_view path, handler h, route_options o = {}) { return route("PATCH", path, std::move(h), std::move(o)); }
  route_group& del(std::string_view path, handler h, route_options o = {}) { return route("DELETE", path, std::move(h), std::move(o)); }
  route_group& options(std::string_view path, handler h, route_options o = {}) { return route("OPTIONS", path, std::move(h), std::move(o)); }
  // `path` is relative to the prefix; "/" is the prefix itself.
  route_group& route(std::string_view method, std::string_view path, handler h, route_options o = {});
  // A WebSocket route under the prefix (see app::ws and websocket.hpp): the group's filters guard
  // its handshake (an auth filter's 401 refuses the upgrade).
  template <class UserData>
  route_group& ws(std::string_view path, ws_behaviour<UserData> b);

 private:
  friend class app;
  route_group(app& a, detail::filter_scope& s) : app_(&a), scope_(&s) {}
  route_group& add_ws(std::string_view path, std::shared_ptr<detail::ws_route> r);  // what ws<U> builds
  app* app_;
  detail::filter_scope* scope_;
};

}  // namespace hive

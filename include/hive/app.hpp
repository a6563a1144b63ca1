// hive::app — the routes of a server, their filters and error pages. Build it once at start-up,
// then hand it to hive::run (a cluster), hive::serve (this process) or a hive::server (an
// io_context you own); it must not change once served.
//
//   hive::app app;
//   app.get("/", [](const hive::request&, hive::response& res) { res.text("Hello, world!\n"); });
//   app.post("/users/:id", [](const hive::request& req, hive::response& res) {
//     res.status(201).json({{"id", *req.param("id")}});
//   });
//   app.use({.after = [](const hive::request&, hive::response& res) { res.header("X-Served-By", "hive"); }});
//   app.on_error([](int status, std::string_view message, hive::response& res) {
//     res.json({{"error", message}, {"status", status}});
//   });
#pragma once

#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "hive/filter.hpp"
#include "hive/route_group.hpp"
#include "hive/router.hpp"
#include "hive/static_files.hpp"

namespace hive {

namespace detail {
class app_dispatcher;
struct ws_route;
}

// WebSocket routes (hive/websocket.hpp): the user data of a route that needs none.
struct ws_no_data {};
template <class UserData>
struct ws_behaviour;

// Shapes the body of an error hive answers: 404, 405 (Allow is set already), 500 (the message is
// the reason phrase, never an exception's text), a 4xx refusal, or an http_error's status and
// message. `res` holds the status; set the body and headers. If it throws, hive's text is sent.
using error_handler = std::function<void(int status, std::string_view message, response& res)>;

class app {
 public:
  app();
  ~app();
  app(app&&) noexcept;
  app& operator=(app&&) noexcept;

  app& get(std::string_view path, handler h, route_options o = {}) { return route("GET", path, std::move(h), std::move(o)); }
  app& post(std::string_view path, handler h, route_options o = {}) { return route("POST", path, std::move(h), std::move(o)); }
  app& put(std::string_view path, handler h, route_options o = {}) { return route("PUT", path, std::move(h), std::move(o)); }
  app& patch(std::string_view path, handler h, route_options o = {}) { return route("PATCH", path, std::move(h), std::move(o)); }
  app& del(std::string_view path, handler h, route_options o = {}) { return route("DELETE", path, std::move(h), std::move(o)); }
  app& options(std::string_view path, handler h, route_options o = {}) { return route("OPTIONS", path, std::move(h), std::move(o)); }
  app& route(std::string_view method, std::string_view path, handler h, route_options o = {});

  // A WebSocket route (defined in hive/websocket.hpp, which hive/hive.hpp includes): a GET on
  // `path` that upgrades; see ws_behaviour. Plain GETs there get 426.
  template <class UserData = ws_no_data>
  app& ws(std::string_view path, ws_behaviour<UserData> b);

  // A filter for every request, routed or not, in the order added (see filter.hpp).
  app& use(filter f);
  // Routes under `prefix` ("/api": no trailing slash) with filters of their own.
  route_group group(std::string_view prefix);
  // Who writes the body of hive's error answers (default: the reason phrase as text).
  app& on_error(error_handler h);
  // Serves the files under directory `root` at `prefix` ("/assets"; "" or "/" for the whole
  // site) with GET and HEAD; see static_files.hpp. Throws std::invalid_argument when `root` is
  // not a directory that can be opened.
  app& static_files(std::string_view prefix, const std::string& root, const static_options& o = {});

  const hive::router& router() const { return router_; }
  // The largest route_options::max_body of any route (0: none has one).
  std::size_t max_route_body() const { return max_route_body_; }

 private:
  friend class route_group;
  friend class detail::app_dispatcher;
  void note(const filter& f);
  app& add_ws(std::string_view path, std::shared_ptr<detail::ws_route> r);  // what ws<U> builds
  route_group make_group(std::string_view prefix, const detail::filter_scope* parent);

  hive::router router_;
  std::unique_ptr<detail::filter_scope> root_;                 // the app's own filters
  std::vector<std::unique_ptr<detail::filter_scope>> groups_;  // stable addresses: routes point to them
  error_handler on_error_;
  bool any_filter_ = false, any_at_head_ = false, any_after_ = false;
  std::size_t max_route_body_ = 0;
};

}  // namespace hive

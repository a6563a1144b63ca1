// hive::router — maps a method and a path to a handler. Patterns are `/`-separated segments:
// literal text, `:name` (one non-empty segment, read with req.param("name")) or a final `*` (the
// rest of the path, read with req.param("*")). Literal segments win over parameters, parameters
// over `*`; an empty segment (`/users/`) is no parameter's, so it reaches `*` or 404.
//
//   r.add("GET", "/users/:id/files/*", handler);
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hive/filter.hpp"
#include "hive/request.hpp"
#include "hive/response.hpp"

namespace hive {

class router;
namespace detail {
struct route_node;
struct route_state;
struct filter_scope;
void find_route(const router& r, std::string_view method, std::string_view path, route_state& out);
}  // namespace detail

using handler = std::function<void(const request&, response&)>;

// What one route adds to its handler.
struct route_options {
  std::vector<filter> filters;  // run after the app's and the groups' filters, in this order
  // The largest request body this route takes, in place of options::max_body_bytes (larger for
  // an upload route, smaller for a login form); 0 keeps the server's. Past it: 413, refused at
  // the head when Content-Length says so (before any body byte is read, and instead of
  // `100 Continue`). A body is held in memory whole: keep options::max_worker_input_bytes above it.
  std::size_t max_body = 0;
  // The handler runs when the head is complete and takes the body as it arrives through
  // req.body_reader() (body_reader.hpp) instead of finding it whole in req.body(); give the
  // route a max_body for large uploads.
  bool stream_body = false;
};

class router {
 public:
  router();
  ~router();
  router(router&&) noexcept;
  router& operator=(router&&) noexcept;

  // Throws std::invalid_argument for a malformed pattern or a method that is not a token.
  // `scope`: the filters of the app or group the route belongs to (none: only its own).
  void add(std::string_view method, std::string_view pattern, handler h, route_options opts = {},
           const detail::filter_scope* scope = nullptr);

 private:
  friend void detail::find_route(const router& r, std::string_view method, std::string_view path,
                                 detail::route_state& out);
  std::unique_ptr<detail::route_node> root_;  // the pattern tree
};

}  // namespace hive

// What the router keeps per route and per group: the handler, the route's own filters and the
// scope (app or group) whose filters run before them.
#pragma once

#include <string>
#include <vector>

#include "hive/filter.hpp"
#include "hive/router.hpp"

namespace hive::detail {

// The filters of the app (the root scope, no parent) or of a group (its parent: the enclosing
// group or the app). Owned by the app; routes point to them.
struct filter_scope {
  std::string prefix;  // the group's full path prefix ("" for the app)
  std::vector<filter> filters;
  const filter_scope* parent = nullptr;
};

struct route_entry {
  handler h;
  std::vector<filter> filters;  // the route's own
  const filter_scope* scope = nullptr;
  std::size_t max_body = 0;  // route_options::max_body (0: the server's)
  bool stream_body = false;  // route_options::stream_body
};

}  // namespace hive::detail

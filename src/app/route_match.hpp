// Finding the handler for a request: the router's matcher, kept out of the public header.
#pragma once

#include <string_view>

#include "app/dispatcher.hpp"
#include "hive/router.hpp"

namespace hive::detail {

// Fills `r` for `method` and the raw `path`: the handler and its parameters (percent-decoded into
// r.scratch, which the caller reserved to path.size() so the views stay valid), or 404, or 405
// with the methods the path has. HEAD falls back to GET.
void find_route(const router& rt, std::string_view method, std::string_view path, route_state& r);

}  // namespace hive::detail

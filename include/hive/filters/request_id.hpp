// hive::filters::request_id — one id per request, to follow it through logs and services: an
// incoming X-Request-Id is kept when it is valid (1..max_length bytes of letters, digits and
// `-_.:+/=@`), otherwise one is made (a random per-process prefix and a counter: unique across
// the cluster's workers without coordination). It is echoed on the response — hive's own answers
// included — and the access log (--access-log) prints the response's field.
//
//   app.use(hive::filters::request_id());
//   app.get("/", [](const hive::request& req, hive::response& res) {
//     res.text(std::string(hive::filters::request_id_of(req, res)));
//   });
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "hive/filter.hpp"

namespace hive::filters {

struct request_id_options {
  std::string header = "X-Request-Id";
  std::size_t max_length = 128;  // a longer incoming id is replaced, not cut
};

// Throws std::invalid_argument if the header name is not a token or max_length is 0.
filter request_id(request_id_options o = {});

// The id of the request a handler answers (after the filter's before() ran): the response's
// X-Request-Id field, else the request's; empty if neither.
std::string_view request_id_of(const request& req, const response& res,
                               std::string_view header = "X-Request-Id");

// True when `id` may be kept as sent (used by the filter; exposed for tests and proxies).
bool valid_request_id(std::string_view id, std::size_t max_length = 128);

}  // namespace hive::filters

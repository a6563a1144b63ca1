// hive::filter — code that runs around handlers (middleware): authentication, CORS, logging,
// headers every response carries. A filter has up to two parts:
//
//   before(req, res): runs before the handler. Return filter_result::next to pass the request
//     on, or filter_result::answered once `res` holds the answer (or was deferred with
//     res.defer(), to answer later): the handler and the filters after it do not run.
//   after(req, res): runs once the response is produced, whoever produced it — a handler, a
//     filter, or hive itself (404, 405, OPTIONS *, 413 and other refusals, 500) — just before it
//     is sent: add headers, look at the status.
//
// `at_head = true` runs `before` as soon as the request head is complete, before the body is
// read: an auth filter refuses an upload with 401 without reading it, and a client that sent
// `Expect: 100-continue` gets the 401 instead of `100 Continue`. Such a filter sees no body, must
// answer at once (no defer()), and a request it answers is the connection's last.
//
//   app.use({.before = [](const hive::request& req, hive::response& res) {
//              if (req.header("Authorization") == "Bearer s3cret") return hive::filter_result::next;
//              res.status(401).text("who are you?\n");
//              return hive::filter_result::answered;
//            },
//            .at_head = true});
//   app.use({.after = [](const hive::request&, hive::response& res) { res.header("X-Frame-Options", "DENY"); }});
#pragma once

#include <functional>

#include "hive/request.hpp"
#include "hive/response.hpp"

namespace hive {

enum class filter_result : bool {
  answered,  // `res` holds the answer (or was deferred): stop the chain
  next,      // pass the request on to the next filter, then the handler
};

struct filter {
  std::function<filter_result(const request&, response&)> before;
  std::function<void(const request&, response&)> after;
  bool at_head = false;  // run `before` when the head is complete, before the body is read
};

}  // namespace hive

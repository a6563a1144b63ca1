// hive::filters::cors — Cross-Origin Resource Sharing (the Fetch standard's CORS protocol) as a
// filter: answers preflights, and marks the answers to cross-origin requests from allowed origins,
// hive's own 404/405/413/500 and other filters' 401s included (its after() sees every answer).
//
//   app.group("/api").use(hive::filters::cors({.origins = {"https://app.example"},
//                                               .credentials = true}));
//
// A preflight (OPTIONS with Origin and Access-Control-Request-Method) from an allowed origin is
// answered 204 with Access-Control-Allow-Origin, -Methods, -Headers, -Max-Age (and -Credentials);
// the handler does not run. A preflight from another origin goes on as a plain OPTIONS request.
// Any other request carrying an allowed Origin gets Access-Control-Allow-Origin (and
// -Credentials, -Expose-Headers); requests without Origin are untouched. When the answer depends
// on the Origin (a list of origins, or credentials), `Vary: Origin` is added.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "hive/filter.hpp"

namespace hive::filters {

struct cors_options {
  // Exact origins ("https://app.example": scheme, host, port as the browser sends them), or
  // {"*"} for any. Empty allows none.
  std::vector<std::string> origins;
  // Methods a preflight may ask for (simple methods need no preflight, but are listed too).
  std::vector<std::string> methods = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"};
  // Request headers a preflight may ask for; empty: whatever it asks (echoed back).
  std::vector<std::string> headers;
  // Response headers the page's script may read beyond the safelisted ones.
  std::vector<std::string> expose_headers;
  // Cookies and Authorization may be sent. Refused with origins {"*"} (browsers refuse the pair;
  // echoing any origin with credentials would let every site act as the user).
  bool credentials = false;
  // How long a browser may cache a preflight's answer; 0 sends no Access-Control-Max-Age.
  std::chrono::seconds max_age{600};
};

// Throws std::invalid_argument for credentials with a wildcard origin, an origin that is "*"
// among others, or a method or header name that is not a token.
filter cors(cors_options o);

}  // namespace hive::filters

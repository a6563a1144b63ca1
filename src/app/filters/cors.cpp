#include "hive/filters/cors.hpp"

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>

#include "util/text.hpp"

namespace hive::filters {

namespace {

struct cors_config {
  cors_options o;
  bool any_origin = false;
  bool vary = false;           // the answer depends on the Origin
  std::string methods;         // joined, for Access-Control-Allow-Methods
  std::string headers;         // joined; empty: echo the request's
  std::string expose;          // joined
  std::string max_age;

  bool allowed(std::string_view origin) const {
    if (any_origin) return true;
    return std::any_of(o.origins.begin(), o.origins.end(), [&](const std::string& x) { return x == origin; });
  }
};

std::string join_tokens(const std::vector<std::string>& v, const char* what) {
  std::string out;
  for (const auto& t : v) {
    if (!detail::is_token(t)) throw std::invalid_argument(std::string("hive: cors: ") + what + " '" + t + "' is not a token");
    if (!out.empty()) out += ", ";
    out += t;
  }
  return out;
}

bool is_preflight(const request& req) {
  return req.method() == "OPTIONS" && req.header("Access-Control-Request-Method").has_value();
}

// The Origin the answer is for: the request's, when it is one we allow.
void mark(const cors_config& c, std::string_view origin, response& res) {
  res.header("Access-Control-Allow-Origin", c.any_origin && !c.o.credentials ? std::string_view("*") : origin);
  if (c.o.credentials) res.header("Access-Control-Allow-Credentials", "true");
  if (c.vary) res.header("Vary", "Origin");
}

}  // namespace

filter cors(cors_options o) {
  auto c = std::make_shared<cors_config>();
  for (const auto& origin : o.origins) {
    if (origin == "*") {
      c->any_origin = true;
    } else if (origin.empty() || !detail::field_bytes_ok(origin)) {
      throw std::invalid_argument("hive: cors: origin '" + origin + "' is not a valid origin");
    }
  }
  if (c->any_origin && o.origins.size() > 1) {
    throw std::invalid_argument("hive: cors: origin \"*\" allows every origin; list no others with it");
  }
  if (c->any_origin && o.credentials) {
    throw std::invalid_argument(
        "hive: cors: credentials with origin \"*\" would let every site send requests as the user; "
        "list the origins that may");
  }
  c->methods = join_tokens(o.methods, "method");
  c->headers = join_tokens(o.headers, "header");
  c->expose = join_tokens(o.expose_headers, "header");
  if (o.max_age.count() > 0) c->max_age = std::to_string(o.max_age.count());
  c->vary = !c->any_origin;  // with "*" and no credentials, every origin gets the same answer
  c->o = std::move(o);

  filter f;
  f.before = [c](const request& req, response& res) {
    if (!is_preflight(req)) return filter_result::next;
    const auto origin = req.header("Origin");
    if (!origin || !c->allowed(*origin)) return filter_result::next;
    res.status(204);
    res.header("Access-Control-Allow-Methods", c->methods);
    if (!c->headers.empty()) {
      res.header("Access-Control-Allow-Headers", c->headers);
    } else if (auto asked = req.header("Access-Control-Request-Headers"); asked && !asked->empty()) {
      res.header("Access-Control-Allow-Headers", *asked);  // a field value already: no CR/LF
    }
    if (!c->max_age.empty()) res.header("Access-Control-Max-Age", c->max_age);
    return filter_result::answered;  // after() adds Allow-Origin, as on every answer
  };
  f.after = [c](const request& req, response& res) {
    const auto origin = req.header("Origin");
    if (!origin) return;
    if (!c->allowed(*origin)) {
      // The answer still depends on the Origin: a shared cache must not hand this one, without
      // Access-Control-Allow-Origin, to an origin that is allowed.
      if (c->vary) res.header("Vary", "Origin");
      return;
    }
    mark(*c, *origin, res);
    if (!c->expose.empty() && !is_preflight(req)) res.header("Access-Control-Expose-Headers", c->expose);
  };
  return f;
}

}  // namespace hive::filters

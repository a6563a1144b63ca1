// response::cookie and response::redirect: Set-Cookie built and checked per RFC 6265 §4.1, so a
// handler cannot set a cookie a browser would misread (or smuggle an attribute through a value).
#include <algorithm>
#include <stdexcept>
#include <string>

#include "hive/response.hpp"
#include "util/text.hpp"

namespace hive {

namespace {

// cookie-octet = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E
bool is_cookie_octet(unsigned char c) {
  return c == 0x21 || (c >= 0x23 && c <= 0x2B) || (c >= 0x2D && c <= 0x3A) || (c >= 0x3C && c <= 0x5B) ||
         (c >= 0x5D && c <= 0x7E);
}

bool valid_cookie_value(std::string_view v) {
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  for (unsigned char c : v) {
    if (!is_cookie_octet(c)) return false;
  }
  return true;
}

// path-value / domain: any CHAR except CTLs or ";".
bool valid_attribute(std::string_view v) {
  for (unsigned char c : v) {
    if (c < 0x20 || c == 0x7F || c == ';' || c >= 0x80) return false;
  }
  return true;
}

}  // namespace

response& response::cookie(std::string_view name, std::string_view value, const cookie_options& o) {
  if (name.empty() || !detail::is_token(name)) {
    throw std::invalid_argument("hive: cookie name '" + std::string(name) + "' is not a token");
  }
  if (!valid_cookie_value(value)) {
    throw std::invalid_argument("hive: the value of cookie '" + std::string(name) +
                                "' holds a character RFC 6265 forbids (space, quote, comma, semicolon, "
                                "backslash or a control); encode it first");
  }
  if (!valid_attribute(o.path) || !valid_attribute(o.domain)) {
    throw std::invalid_argument("hive: the Path or Domain of cookie '" + std::string(name) +
                                "' holds ';' or a control character");
  }
  using policy = cookie_options::same_site_policy;
  if (o.same_site == policy::none && !o.secure) {
    throw std::invalid_argument("hive: cookie '" + std::string(name) +
                                "' has SameSite=None without Secure (browsers refuse it); set secure");
  }
  std::string v;
  v.reserve(name.size() + value.size() + 64);
  v.append(name).append("=").append(value);
  if (o.max_age) v.append("; Max-Age=").append(std::to_string(std::max<long long>(0, o.max_age->count())));
  if (!o.domain.empty()) v.append("; Domain=").append(o.domain);
  if (!o.path.empty()) v.append("; Path=").append(o.path);
  if (o.secure) v.append("; Secure");
  if (o.http_only) v.append("; HttpOnly");
  switch (o.same_site) {
    case policy::unset: break;
    case policy::lax: v.append("; SameSite=Lax"); break;
    case policy::strict: v.append("; SameSite=Strict"); break;
    case policy::none: v.append("; SameSite=None"); break;
  }
  return header("Set-Cookie", v);
}

void response::redirect(std::string_view location, int code) {
  if (code != 301 && code != 302 && code != 303 && code != 307 && code != 308) {
    throw std::invalid_argument("hive: redirect status " + std::to_string(code) +
                                " is not one of 301, 302, 303, 307, 308");
  }
  status(code);
  header("Location", location);
  text({});
}

}  // namespace hive

#include "hive/request.hpp"

#include <arpa/inet.h>

#include <nlohmann/json.hpp>

#include "app/request_scratch.hpp"
#include "hive/http_error.hpp"
#include "util/cidr.hpp"
#include "util/text.hpp"

namespace hive {

const address request::no_address_{};

bool address::is_v4() const {
  for (int i = 0; i < 10; ++i) {
    if (bytes[i] != 0) return false;
  }
  return bytes[10] == 0xff && bytes[11] == 0xff;
}

std::string address::ip() const {
  char text[INET6_ADDRSTRLEN];
  const bool v4 = is_v4();
  if (::inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? &bytes[12] : &bytes[0], text, sizeof text) == nullptr) {
    return {};
  }
  return text;
}

namespace {

// The address in one X-Forwarded-For item or Forwarded `for=` value: a bare IP, an IP with a
// port ("1.2.3.4:80"), or a bracketed IPv6 with or without port; quotes allowed.
bool parse_forwarded_ip(std::string_view v, address& out) {
  v = detail::trim_ows(v);
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  if (!v.empty() && v.front() == '[') {
    const auto close = v.find(']');
    if (close == std::string_view::npos) return false;
    v = v.substr(1, close - 1);
  } else if (v.find(':') != v.rfind(':')) {
    // two colons or more: a bare IPv6
  } else if (const auto colon = v.find(':'); colon != std::string_view::npos) {
    v = v.substr(0, colon);
  }
  out = {};
  return detail::parse_address(v, out.bytes);
}

}  // namespace

address request::client_address() const {
  if (trusted_ == nullptr || trusted_->empty() || !trusted_->contains(remote_->bytes)) return *remote_;
  // Walk the chain from the nearest hop back; the first address not trusted is the client.
  std::vector<std::string_view> hops;
  for (const auto& h : headers_) {
    if (detail::iequals(h.name, "x-forwarded-for")) {
      detail::for_each_list_item(h.value, [&](std::string_view item) { hops.push_back(item); });
    }
  }
  if (hops.empty()) {
    for (const auto& h : headers_) {
      if (!detail::iequals(h.name, "forwarded")) continue;
      detail::for_each_list_item(h.value, [&](std::string_view element) {
        while (!element.empty()) {
          const auto semi = element.find(';');
          const auto pair = detail::trim_ows(element.substr(0, semi));
          if (pair.size() > 4 && detail::iequals(pair.substr(0, 4), "for=")) hops.push_back(pair.substr(4));
          if (semi == std::string_view::npos) break;
          element.remove_prefix(semi + 1);
        }
      });
    }
  }
  address client = *remote_;
  for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
    address hop;
    if (!parse_forwarded_ip(*it, hop)) break;  // "unknown", an obfuscated name: stop believing
    client = hop;
    if (!trusted_->contains(hop.bytes)) break;
  }
  return client;
}

std::optional<std::string_view> request::header(std::string_view name) const {
  for (const auto& h : headers_) {
    if (detail::iequals(h.name, name)) return h.value;
  }
  return std::nullopt;
}

std::optional<std::string_view> request::param(std::string_view name) const {
  for (const auto& p : params_) {
    if (p.name == name) return p.value;
  }
  return std::nullopt;
}

// Form bodies decode into the same scratch as the query, past it: the scratch is sized for both
// on the first decode, so no view handed out earlier moves.
std::size_t request::scratch_need() const {
  const auto type = header("Content-Type");
  const bool is_form = type && detail::iequals(detail::trim_ows(type->substr(0, type->find(';'))),
                                               "application/x-www-form-urlencoded");
  return query_.size() + (is_form ? body_.size() : 0);
}

std::optional<std::string_view> request::query(std::string_view name) const {
  return find_pair(query_, name, 0);
}

std::optional<std::string_view> request::form(std::string_view name) const {
  if (scratch_need() == query_.size()) return std::nullopt;  // not a form body
  return find_pair(body_, name, query_.size());
}

std::optional<std::string_view> request::find_pair(std::string_view pairs, std::string_view name,
                                                   std::size_t scratch_offset) const {
  std::string_view rest = pairs;
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    const auto eq = pair.find('=');
    if (!detail::percent_decodes_to(pair.substr(0, eq), name, true)) continue;
    const std::string_view raw = pair.substr(eq == std::string_view::npos ? pair.size() : eq + 1);
    if (raw.find_first_of("%+") == std::string_view::npos) return raw;
    // Decoding never lengthens, so each value decodes to its own offset in a scratch the size of
    // the query (and form body): values decoded earlier stay where they are, and asking twice
    // rewrites the same bytes. Only the first request for room can grow the scratch, before any
    // view into it.
    char* out = scratch_->reserve(scratch_need()) + scratch_offset + (raw.data() - pairs.data());
    if (const auto n = detail::percent_decode(raw, out, true)) return std::string_view(out, *n);
    return raw;  // a malformed escape is passed on as sent
  }
  return std::nullopt;
}

std::optional<std::string_view> request::cookie(std::string_view name) const {
  // Cookie: a=b; c=d (RFC 6265 §5.4); a client may send more than one field.
  for (const auto& h : headers_) {
    if (!detail::iequals(h.name, "cookie")) continue;
    std::string_view rest = h.value;
    while (!rest.empty()) {
      const auto semi = rest.find(';');
      const std::string_view pair = detail::trim_ows(rest.substr(0, semi));
      rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
      const auto eq = pair.find('=');
      if (eq == std::string_view::npos || detail::trim_ows(pair.substr(0, eq)) != name) continue;
      std::string_view v = detail::trim_ows(pair.substr(eq + 1));
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      return v;
    }
  }
  return std::nullopt;
}

namespace {

// The deepest nesting req.json() accepts. nlohmann::json copies and serializes recursively, so a
// client's "[[[[…" a million deep would overflow the worker's stack in the handler's
// res.json(req.json()); no real document comes near this.
constexpr int max_json_depth = 512;

// True when `text` nests arrays and objects deeper than `limit` (brackets inside strings do not
// count). Malformed text is the parser's to judge.
bool nests_deeper(std::string_view text, int limit) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

}  // namespace

nlohmann::json request::json() const {
  const std::string_view type = header("Content-Type").value_or("");
  const std::string_view media = detail::trim_ows(type.substr(0, type.find(';')));
  const bool json_type = detail::iequals(media, "application/json") ||
                         (media.size() > 5 && detail::iequals(media.substr(media.size() - 5), "+json"));
  if (!json_type) {
    throw http_error(400, "expected a JSON body (Content-Type: application/json), got " +
                              (media.empty() ? std::string("no Content-Type") : "'" + std::string(media) + "'"));
  }
  if (nests_deeper(body_, max_json_depth)) {
    throw http_error(400, "the JSON body nests deeper than " + std::to_string(max_json_depth) + " levels");
  }
  try {
    return nlohmann::json::parse(body_);
  } catch (const nlohmann::json::parse_error& e) {
    std::string_view what = e.what();  // "[json.exception.parse_error.101] parse error at …"
    if (const auto close = what.find("] "); close != std::string_view::npos) what.remove_prefix(close + 2);
    throw http_error(400, "the body is not valid JSON: " + std::string(what));
  }
}

}  // namespace hive

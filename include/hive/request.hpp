// hive::request — what the client asked for. Everything in it is a view into the worker's read
// buffer (or, for a decoded query value, into memory the request owns as long) and is valid only
// while the handler runs: copy what a deferred response needs later. Whatever may be absent — a
// query parameter, a header, a route parameter — is a std::optional<std::string_view>.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "hive/body_reader.hpp"

namespace hive {

namespace detail {
struct request_builder;
struct request_scratch;
struct response_link;
class cidr_set;
}  // namespace detail

// An IP address and port. IPv4 is held IPv4-mapped (::ffff:a.b.c.d), as a dual-stack socket
// reports it, so one form serves both families.
struct address {
  std::array<std::uint8_t, 16> bytes{};
  std::uint16_t port = 0;  // 0: not known (an address taken from a header)

  bool is_v4() const;
  // "203.0.113.7" or "2001:db8::1" (no port).
  std::string ip() const;
  friend bool operator==(const address&, const address&) = default;
};

struct header_field {
  std::string_view name;
  std::string_view value;
};

struct route_param {
  std::string_view name;
  std::string_view value;  // percent-decoded
};

class request {
 public:
  std::string_view method() const { return method_; }
  std::string_view target() const { return target_; }  // as sent: path and query
  std::string_view path() const { return path_; }      // target without the query, not decoded
  std::string_view query_string() const { return query_; }
  // The first value of a query parameter, percent-decoded (`+` is a space; a malformed escape is
  // passed on as sent); nullopt if absent, empty for `?name` or `?name=`.
  std::optional<std::string_view> query(std::string_view name) const;

  int version_major() const { return major_; }
  int version_minor() const { return minor_; }

  // Case-insensitive; the first field with that name, or nullopt.
  std::optional<std::string_view> header(std::string_view name) const;
  std::span<const header_field> headers() const { return headers_; }

  // A `:name` segment of the route (percent-decoded), or the `*` tail under the name "*";
  // nullopt if the route has no such parameter.
  std::optional<std::string_view> param(std::string_view name) const;
  std::span<const route_param> params() const { return params_; }

  std::string_view body() const { return body_; }
  // The body as it arrives, for a route added with route_options::stream_body (body() is empty
  // there): see body_reader.hpp. Call it from the handler; the same reader each time. Throws
  // std::logic_error on a route that does not stream its body.
  hive::body_reader body_reader() const;
  // The body parsed as JSON. Throws hive::http_error(400) — answered as 400 with the reason —
  // when the Content-Type is not application/json (or +json), the body is not valid JSON, or it
  // nests arrays and objects more than 512 deep (copying such a value would exhaust the stack).
  nlohmann::json json() const;
  // A field of an `application/x-www-form-urlencoded` body, decoded as query() decodes; nullopt
  // if absent or if the body is not a form.
  std::optional<std::string_view> form(std::string_view name) const;
  // The value of a cookie from the Cookie fields (surrounding quotes removed), or nullopt.
  std::optional<std::string_view> cookie(std::string_view name) const;

  // The peer of the connection, as accepted.
  const address& remote_address() const { return *remote_; }
  // The client: the peer, or — when the peer is one of options::trusted_proxies — the address
  // it forwarded (`X-Forwarded-For`, else `Forwarded: for=`), read from the right and skipping
  // the trusted proxies in the chain. A peer not trusted is never believed.
  address client_address() const;

 private:
  friend struct detail::request_builder;
  std::string_view method_, target_, path_, query_, body_;
  std::span<const header_field> headers_;
  std::span<const route_param> params_;
  int major_ = 1, minor_ = 1;
  const address* remote_ = &no_address_;
  const detail::cidr_set* trusted_ = nullptr;
  detail::request_scratch* scratch_ = nullptr;  // where query() decodes
  detail::response_link* link_ = nullptr;       // body_reader()'s way to the connection
  static const address no_address_;
  std::optional<std::string_view> find_pair(std::string_view pairs, std::string_view name,
                                            std::size_t scratch_offset) const;
  std::size_t scratch_need() const;
};

}  // namespace hive

// Content-coding negotiation (RFC 9110 §12.5.3) over Accept-Encoding field values: which of the
// codings a server offers the client prefers, and whether it refuses an unencoded answer. Pure
// functions, unit-tested on their own.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "hive/request.hpp"

namespace hive::detail {

enum class coding : std::uint8_t { identity, gzip, br, zstd };

// The token that names a coding in Content-Encoding ("identity" for none).
std::string_view coding_name(coding c);
// "gzip" (and "x-gzip", RFC 9110 §8.4.1.3), "br", "zstd" or "identity", case-insensitive;
// false for anything else.
bool parse_coding(std::string_view name, coding& out);

struct coding_choice {
  coding pick = coding::identity;  // the offered coding the client likes best, or identity
  bool identity_refused = false;   // `identity;q=0`, or `*;q=0` with no entry for identity
};

// A request's Accept-Encoding field lines, in order (a list may span several; past 4, ignored).
struct accept_fields {
  std::string_view one[4];
  std::size_t n = 0;
  std::span<const std::string_view> lines() const { return {one, n}; }
};
accept_fields accept_encoding_fields(std::span<const header_field> headers);

// `fields`: the request's Accept-Encoding values, every line in order (a list may span several
// field lines). Empty (no field, or only empty ones): identity, as every server does although
// the RFC would allow any coding to a client that sends none. `offered`: best first; among
// codings of equal weight the first offered wins, and identity wins over codings weighted lower.
// A member with a malformed weight (`q=2`, `q=0.1234`, `q=x`) is ignored.
coding_choice negotiate(std::span<const std::string_view> fields, std::span<const coding> offered);

}  // namespace hive::detail

// The rules of RFC 9110 a file server follows, as pure functions over header values: validators
// (§8.8), conditional requests in their order of precedence (§13.2.2), byte ranges (§14) and
// content-coding negotiation (§12.5.3). No I/O: unit-tested on their own.
#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace hive::detail {

// A strong entity tag from the file's identity and version: `"inode-size-mtime_ns"` in hex.
std::string make_etag(std::uint64_t inode, std::uint64_t size, std::int64_t mtime_ns);
// IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
std::string http_date(std::time_t t);
// IMF-fixdate, RFC 850 or asctime (§5.6.7); nullopt when it is none of them.
std::optional<std::time_t> parse_http_date(std::string_view text);

// Does an If-Match / If-None-Match list (or `*`) hold `etag`? `weak`: weak comparison (W/
// prefixes ignored); strong otherwise (a weak tag never matches).
bool etag_list_matches(std::string_view list, std::string_view etag, bool weak);

enum class precondition : std::uint8_t { proceed, not_modified, failed };
struct validators {
  std::string_view etag;
  std::time_t modified = 0;
};
struct conditional_headers {
  std::optional<std::string_view> if_match, if_none_match, if_modified_since, if_unmodified_since;
};
// §13.2.2: If-Match, else If-Unmodified-Since (412); then If-None-Match, else If-Modified-Since
// (304 for GET and HEAD, 412 for other methods).
precondition evaluate(const conditional_headers& h, const validators& v, bool get_or_head);

struct byte_range {
  std::uint64_t first = 0, length = 0;
};
enum class range_kind : std::uint8_t {
  none,           // no Range, a malformed one, or not bytes: the whole representation
  single,         // one satisfiable range
  several,        // more than one: served whole (see static_files.hpp)
  unsatisfiable,  // 416
};
struct range_result {
  range_kind kind = range_kind::none;
  byte_range range;
};
range_result parse_range(std::string_view header, std::uint64_t size);
// If-Range (§13.1.5): true when the range may be honoured (a strong etag equal to ours, or a date
// equal to Last-Modified).
bool if_range_holds(std::string_view if_range, const validators& v);

}  // namespace hive::detail

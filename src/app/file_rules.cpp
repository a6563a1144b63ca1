#include "app/file_rules.hpp"

#include <charconv>
#include <cstdio>
#include <cstring>

#include "util/text.hpp"

namespace hive::detail {

namespace {

constexpr const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Digits only; a number too large for 64 bits is the largest there is (a position past any
// file: `bytes=99999999999999999999-` is unsatisfiable, not malformed).
bool parse_u64(std::string_view s, std::uint64_t& out) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec == std::errc::result_out_of_range) out = UINT64_MAX;
  return true;
}

int month_of(std::string_view m) {
  for (int i = 0; i < 12; ++i) {
    if (m == months[i]) return i;
  }
  return -1;
}

// Each item of a comma-separated list, trimmed; empty items skipped.
template <class F>
void each_item(std::string_view list, F&& f) {
  while (!list.empty()) {
    const auto comma = list.find(',');
    const auto item = trim(list.substr(0, comma));
    if (!item.empty() && !f(item)) return;
    if (comma == std::string_view::npos) return;
    list.remove_prefix(comma + 1);
  }
}

}  // namespace

std::string make_etag(std::uint64_t inode, std::uint64_t size, std::int64_t mtime_ns) {
  char buf[80];
  const int n = std::snprintf(buf, sizeof buf, "\"%llx-%llx-%llx\"", static_cast<unsigned long long>(inode),
                              static_cast<unsigned long long>(size), static_cast<unsigned long long>(mtime_ns));
  return std::string(buf, static_cast<std::size_t>(n));
}

std::string http_date(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  const int n = std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
                              months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return std::string(buf, static_cast<std::size_t>(n));
}

std::optional<std::time_t> parse_http_date(std::string_view text) {
  text = trim(text);
  if (text.size() > 64) return std::nullopt;
  char s[72];
  std::memcpy(s, text.data(), text.size());
  s[text.size()] = '\0';
  char wday[16], mon[4];
  int day = 0, year = 0, h = 0, m = 0, sec = 0, used = 0;
  std::tm tm{};
  // IMF-fixdate, then RFC 850 (two-digit year), then asctime.
  if (std::sscanf(s, "%3s, %2d %3s %4d %2d:%2d:%2d GMT%n", wday, &day, mon, &year, &h, &m, &sec, &used) == 7 &&
      static_cast<std::size_t>(used) == text.size()) {
  } else if (std::sscanf(s, "%15[A-Za-z], %2d-%3s-%2d %2d:%2d:%2d GMT%n", wday, &day, mon, &year, &h, &m, &sec,
                         &used) == 7 &&
             static_cast<std::size_t>(used) == text.size()) {
    year += year < 70 ? 2000 : 1900;
  } else if (std::sscanf(s, "%3s %3s %2d %2d:%2d:%2d %4d%n", wday, mon, &day, &h, &m, &sec, &year, &used) == 7 &&
             static_cast<std::size_t>(used) == text.size()) {
  } else {
    return std::nullopt;
  }
  const int month = month_of(mon);
  if (month < 0 || day < 1 || day > 31 || h > 23 || m > 59 || sec > 60 || year < 1900) return std::nullopt;
  tm.tm_year = year - 1900;
  tm.tm_mon = month;
  tm.tm_mday = day;
  tm.tm_hour = h;
  tm.tm_min = m;
  tm.tm_sec = sec;
  return timegm(&tm);
}

bool etag_list_matches(std::string_view list, std::string_view etag, bool weak) {
  if (trim(list) == "*") return true;
  const auto opaque = [](std::string_view t) { return t.starts_with("W/") ? t.substr(2) : t; };
  if (!weak && etag.starts_with("W/")) return false;
  bool found = false;
  each_item(list, [&](std::string_view tag) {
    if (!weak && tag.starts_with("W/")) return true;
    if (opaque(tag) == opaque(etag)) {
      found = true;
      return false;
    }
    return true;
  });
  return found;
}

precondition evaluate(const conditional_headers& h, const validators& v, bool get_or_head) {
  if (h.if_match) {
    if (!etag_list_matches(*h.if_match, v.etag, false)) return precondition::failed;
  } else if (h.if_unmodified_since) {
    // An invalid date is ignored (§13.1.4).
    if (auto t = parse_http_date(*h.if_unmodified_since); t && v.modified > *t) return precondition::failed;
  }
  if (h.if_none_match) {
    if (etag_list_matches(*h.if_none_match, v.etag, true)) {
      return get_or_head ? precondition::not_modified : precondition::failed;
    }
  } else if (h.if_modified_since && get_or_head) {
    if (auto t = parse_http_date(*h.if_modified_since); t && v.modified <= *t) return precondition::not_modified;
  }
  return precondition::proceed;
}

range_result parse_range(std::string_view header, std::uint64_t size) {
  header = trim(header);
  constexpr std::string_view unit = "bytes=";
  if (header.size() < unit.size() || !iequals(header.substr(0, unit.size()), unit)) return {};
  header.remove_prefix(unit.size());
  int count = 0, satisfiable = 0;
  byte_range first{};
  bool malformed = false;
  each_item(header, [&](std::string_view spec) {
    ++count;
    const auto dash = spec.find('-');
    if (dash == std::string_view::npos) {
      malformed = true;
      return false;
    }
    const auto a = trim(spec.substr(0, dash)), b = trim(spec.substr(dash + 1));
    std::uint64_t x = 0, y = 0;
    if (a.empty()) {  // suffix: the last y bytes
      if (!parse_u64(b, y)) {
        malformed = true;
        return false;
      }
      if (y == 0 || size == 0) return true;  // unsatisfiable
      if (y > size) y = size;
      if (satisfiable++ == 0) first = {size - y, y};
      return true;
    }
    if (!parse_u64(a, x) || (!b.empty() && (!parse_u64(b, y) || y < x))) {
      malformed = true;
      return false;
    }
    if (x >= size) return true;  // unsatisfiable
    const std::uint64_t last = b.empty() || y >= size ? size - 1 : y;
    if (satisfiable++ == 0) first = {x, last - x + 1};
    return true;
  });
  if (malformed || count == 0) return {};
  if (satisfiable == 0) return {range_kind::unsatisfiable, {}};
  if (count > 1) return {range_kind::several, {}};
  return {range_kind::single, first};
}

bool if_range_holds(std::string_view if_range, const validators& v) {
  if_range = trim(if_range);
  if (if_range.starts_with('"') || if_range.starts_with("W/")) {
    return !if_range.starts_with("W/") && if_range == v.etag;
  }
  const auto t = parse_http_date(if_range);
  return t && *t == v.modified;
}

}  // namespace hive::detail

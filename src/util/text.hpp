// Small text rules from RFC 9110: tokens, optional whitespace, lists, case-insensitive compare,
// percent-decoding. Inline because the parser and router call them per byte.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace hive::detail {

constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }
constexpr bool is_alpha(char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }

// Character classes as one 256-entry table: the parser asks per byte, and a switch per byte
// costs several times a load.
enum char_class : unsigned char {
  cc_tchar = 1,        // token characters (RFC 9110 §5.6.2)
  cc_reg_name = 2,     // unreserved / sub-delims / "%" (RFC 3986 reg-name)
  cc_field_byte = 4,   // what a field value may hold: VCHAR, obs-text, SP, HTAB (RFC 9110 §5.5)
};

inline constexpr auto char_classes = [] {
  struct table {
    unsigned char v[256] = {};
  } t;
  for (int c = 0; c < 256; ++c) {
    const char ch = static_cast<char>(c);
    const bool alnum = is_digit(ch) || is_alpha(ch);
    bool tchar = alnum, reg = alnum;
    switch (ch) {
      case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
      case '-': case '.': case '^': case '_': case '`': case '|': case '~': tchar = true; break;
      default: break;
    }
    switch (ch) {
      case '-': case '.': case '_': case '~': case '!': case '$': case '&': case '\'':
      case '(': case ')': case '*': case '+': case ',': case ';': case '=': case '%': reg = true; break;
      default: break;
    }
    const bool field = (c >= 0x20 && c != 0x7f) || ch == '\t';
    t.v[c] = static_cast<unsigned char>((tchar ? cc_tchar : 0) | (reg ? cc_reg_name : 0) |
                                        (field ? cc_field_byte : 0));
  }
  return t;
}();

constexpr bool has_class(char c, char_class k) {
  return (char_classes.v[static_cast<unsigned char>(c)] & k) != 0;
}

constexpr bool is_tchar(char c) { return has_class(c, cc_tchar); }

constexpr bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_tchar(c)) return false;
  }
  return true;
}

constexpr char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c | 0x20) : c; }

// Inline: the parser compares every header name with a few literals, and a call costs more than
// the usual size mismatch.
[[gnu::always_inline]] constexpr bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// True when every byte may appear in a field value: no CR, LF, NUL or other control character.
constexpr bool field_bytes_ok(std::string_view s) {
  for (char c : s) {
    if (!has_class(c, cc_field_byte)) return false;
  }
  return true;
}

constexpr std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Calls f(item) for each non-empty, trimmed element of a comma-separated list.
template <class F>
void for_each_list_item(std::string_view list, F&& f) {
  while (!list.empty()) {
    const auto comma = list.find(',');
    const auto item = trim_ows(list.substr(0, comma));
    if (!item.empty()) f(item);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

// Host = uri-host [ ":" port ] (RFC 9110 §7.2), empty allowed; no userinfo.
bool valid_host(std::string_view host);

// Decodes %XX (and `+` as space when `plus_is_space`) into `out`, appending. Returns false, and
// appends nothing more, on a malformed escape.
bool percent_decode(std::string_view in, std::string& out, bool plus_is_space);
// The same into `out`, which has room for in.size() bytes (decoding never lengthens): the decoded
// size, or nullopt on a malformed escape.
std::optional<std::size_t> percent_decode(std::string_view in, char* out, bool plus_is_space);
// Whether `in` percent-decodes to `decoded`, without decoding it anywhere; false when `in` holds a
// malformed escape.
bool percent_decodes_to(std::string_view in, std::string_view decoded, bool plus_is_space);

}  // namespace hive::detail

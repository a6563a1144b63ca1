#include "app/multipart_fields.hpp"

#include <cstdint>
#include <string>

#include "util/text.hpp"

namespace hive::detail {

namespace {

std::string_view skip_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

std::string_view take_token(std::string_view& s) {
  std::size_t n = 0;
  while (n < s.size() && is_tchar(s[n])) ++n;
  const auto t = s.substr(0, n);
  s.remove_prefix(n);
  return t;
}

// How a parameter's quoted value is read. RFC 9110 §5.6.4 has backslash escapes; browsers do not
// use them in Content-Disposition but percent-encode `"`, CR and LF instead, and send a backslash
// as itself (a Windows path), so form-data values are read the way the Fetch standard's
// multipart/form-data parser reads them.
enum class quoting : std::uint8_t { rfc9110, form_data };

bool quoted_value(std::string_view& s, quoting q, std::string& out) {
  s.remove_prefix(1);  // the opening quote
  while (!s.empty()) {
    const char c = s.front();
    s.remove_prefix(1);
    if (c == '"') {
      if (q == quoting::form_data) {
        std::string decoded;
        for (std::size_t i = 0; i < out.size(); ++i) {
          if (out[i] == '%' && i + 2 < out.size()) {
            const std::string_view hex(out.data() + i + 1, 2);
            if (iequals(hex, "0A") || iequals(hex, "0D") || hex == "22") {
              decoded += iequals(hex, "0A") ? '\n' : iequals(hex, "0D") ? '\r' : '"';
              i += 2;
              continue;
            }
          }
          decoded += out[i];
        }
        out = std::move(decoded);
      }
      return true;
    }
    if (c == '\\' && q == quoting::rfc9110) {
      if (s.empty() || !has_class(s.front(), cc_field_byte)) return false;
      out += s.front();
      s.remove_prefix(1);
      continue;
    }
    if (!has_class(c, cc_field_byte)) return false;
    out += c;
  }
  return false;  // no closing quote
}

// Calls f(name, value) for each `; name=value` of `s` (what follows a media or disposition type);
// false on a syntax error or when f refuses a parameter.
template <class F>
bool for_each_param(std::string_view s, quoting q, F&& f) {
  while (true) {
    s = skip_ows(s);
    if (s.empty()) return true;
    if (s.front() != ';') return false;
    s = skip_ows(s.substr(1));
    if (s.empty()) return true;  // a trailing `;`
    const auto name = take_token(s);
    if (name.empty() || s.empty() || s.front() != '=') return false;
    s.remove_prefix(1);
    std::string value;
    if (!s.empty() && s.front() == '"') {
      if (!quoted_value(s, q, value)) return false;
    } else {
      const auto token = take_token(s);
      if (token.empty()) return false;
      value.assign(token);
    }
    if (!f(name, std::move(value))) return false;
  }
}

// RFC 2046 §5.1.1: bchars, 1 to 70 of them, not ending in a space.
bool valid_boundary(std::string_view b) {
  if (b.empty() || b.size() > 70 || b.back() == ' ') return false;
  for (const char c : b) {
    const bool ok = is_digit(c) || is_alpha(c) || std::string_view("'()+_,-./:=? ").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

// RFC 8187 ext-value: charset ' [language] ' pct-encoded value; UTF-8 only (RFC 8187 §3.2.1
// requires it of senders). nullopt when malformed; an empty optional string for other charsets.
std::optional<std::optional<std::string>> ext_value(std::string_view v) {
  const auto q1 = v.find('\'');
  if (q1 == std::string_view::npos) return std::nullopt;
  const auto q2 = v.find('\'', q1 + 1);
  if (q2 == std::string_view::npos) return std::nullopt;
  std::string out;
  if (!percent_decode(v.substr(q2 + 1), out, false)) return std::nullopt;
  if (!iequals(v.substr(0, q1), "UTF-8")) return std::optional<std::string>();
  return std::optional<std::string>(std::move(out));
}

multipart_error read_disposition(std::string_view value, multipart_part& part) {
  auto rest = value;
  const auto type = take_token(rest);
  if (!iequals(type, "form-data")) return multipart_error::no_disposition;
  bool has_name = false, has_plain = false, has_ext = false;
  std::optional<std::string> plain, ext;
  const bool ok = for_each_param(rest, quoting::form_data, [&](std::string_view name, std::string v) {
    if (iequals(name, "name")) {
      if (has_name) return false;
      has_name = true;
      part.name = std::move(v);
    } else if (iequals(name, "filename")) {
      if (has_plain) return false;
      has_plain = true;
      plain = std::move(v);
    } else if (iequals(name, "filename*")) {
      if (has_ext) return false;
      has_ext = true;
      auto decoded = ext_value(v);
      if (!decoded) return false;
      ext = std::move(*decoded);
    }
    return true;  // other parameters are ignored
  });
  if (!ok) return multipart_error::malformed;
  if (!has_name) return multipart_error::no_disposition;
  part.filename = ext ? std::move(ext) : std::move(plain);
  return multipart_error::none;
}

}  // namespace

std::optional<std::string> form_boundary(std::string_view content_type) {
  auto rest = content_type;
  rest = skip_ows(rest);
  const auto type = take_token(rest);
  if (!iequals(type, "multipart") || rest.empty() || rest.front() != '/') return std::nullopt;
  rest.remove_prefix(1);
  if (!iequals(take_token(rest), "form-data")) return std::nullopt;
  std::optional<std::string> boundary;
  const bool ok = for_each_param(rest, quoting::rfc9110, [&](std::string_view name, std::string v) {
    if (!iequals(name, "boundary")) return true;
    if (boundary) return false;  // two boundaries: which one?
    boundary = std::move(v);
    return true;
  });
  if (!ok || !boundary || !valid_boundary(*boundary)) return std::nullopt;
  return boundary;
}

multipart_error parse_part_head(std::string_view section, multipart_part& part) {
  bool disposition = false, type = false;
  while (!section.empty()) {
    const auto eol = section.find("\r\n");
    if (eol == std::string_view::npos) return multipart_error::malformed;  // cannot happen: the section ends with CRLF
    const auto line = section.substr(0, eol);
    section.remove_prefix(eol + 2);
    if (line.empty() || line.front() == ' ' || line.front() == '\t') return multipart_error::malformed;  // obs-fold
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || !is_token(line.substr(0, colon))) return multipart_error::malformed;
    const auto value = trim_ows(line.substr(colon + 1));
    if (!field_bytes_ok(value)) return multipart_error::malformed;  // a bare CR or LF, NUL, controls
    std::string name(line.substr(0, colon));
    for (char& c : name) c = lower(c);
    if (name == "content-disposition") {
      if (disposition) return multipart_error::no_disposition;  // two: which one?
      disposition = true;
      if (const auto e = read_disposition(value, part); e != multipart_error::none) return e;
    } else if (name == "content-type") {
      if (type || value.empty()) return multipart_error::malformed;
      type = true;
      part.content_type.assign(value);
    }
    part.headers.emplace_back(std::move(name), std::string(value));
  }
  return disposition ? multipart_error::none : multipart_error::no_disposition;
}

}  // namespace hive::detail

#include "util/text.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace hive::detail {

namespace {
int hex(char c) {
  if (is_digit(c)) return c - '0';
  const char l = lower(c);
  if (l >= 'a' && l <= 'f') return l - 'a' + 10;
  return -1;
}
}  // namespace

bool valid_host(std::string_view host) {
  if (host.empty()) return true;
  if (host.front() == '[') {  // IP-literal [ ":" port ]
    const auto close = host.find(']');
    if (close == std::string_view::npos) return false;
    // IP-literal = "[" ( IPv6address / IPvFuture ) "]" (RFC 3986 §3.2.2): an IPv6 address that
    // parses; IPvFuture is refused, as no client has a use for it.
    const auto literal = host.substr(1, close - 1);
    char text[INET6_ADDRSTRLEN];
    in6_addr parsed;
    // inet_pton reads a C string: a NUL inside would end the literal early.
    if (literal.empty() || literal.size() >= sizeof text || literal.find('\0') != std::string_view::npos) return false;
    literal.copy(text, literal.size());
    text[literal.size()] = '\0';
    if (::inet_pton(AF_INET6, text, &parsed) != 1) return false;
    const auto rest = host.substr(close + 1);
    if (rest.empty()) return true;
    if (rest.front() != ':') return false;
    for (char c : rest.substr(1)) {
      if (!is_digit(c)) return false;
    }
    return true;
  }
  // reg-name or IPv4address, then an optional ":" port: one pass, since a colon cannot be part of
  // the name, the first one starts the port.
  std::size_t i = 0;
  while (i < host.size() && has_class(host[i], cc_reg_name)) ++i;
  if (i == host.size()) return true;
  if (host[i] != ':') return false;
  for (++i; i < host.size(); ++i) {
    if (!is_digit(host[i])) return false;
  }
  return true;
}

namespace {
// One decoder for every destination: `out` takes runs to copy as they are and decoded bytes.
template <class Out>
bool decode(std::string_view in, bool plus_is_space, Out& out) {
  // Most paths and parameters hold nothing to decode: copy runs between escapes whole.
  while (!in.empty()) {
    std::size_t run = 0;
    while (run < in.size() && in[run] != '%' && !(plus_is_space && in[run] == '+')) ++run;
    out.append(in.data(), run);
    in.remove_prefix(run);
    if (in.empty()) break;
    if (in.front() == '+') {
      out.push_back(' ');
      in.remove_prefix(1);
      continue;
    }
    if (in.size() < 3) return false;
    const int hi = hex(in[1]);
    const int lo = hex(in[2]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<char>(hi * 16 + lo));
    in.remove_prefix(3);
  }
  return true;
}

struct to_memory {
  char* at;
  void append(const char* p, std::size_t n) {
    if (n != 0) std::memcpy(at, p, n);
    at += n;
  }
  void push_back(char c) { *at++ = c; }
};

// Compares with what is left of `want` instead of writing anywhere.
struct to_comparison {
  std::string_view want;
  bool same = true;
  void append(const char* p, std::size_t n) {
    same = same && want.starts_with(std::string_view(p, n));
    if (same) want.remove_prefix(n);
  }
  void push_back(char c) {
    same = same && !want.empty() && want.front() == c;
    if (same) want.remove_prefix(1);
  }
};
}  // namespace

bool percent_decode(std::string_view in, std::string& out, bool plus_is_space) {
  return decode(in, plus_is_space, out);
}

std::optional<std::size_t> percent_decode(std::string_view in, char* out, bool plus_is_space) {
  to_memory sink{out};
  if (!decode(in, plus_is_space, sink)) return std::nullopt;
  return static_cast<std::size_t>(sink.at - out);
}

bool percent_decodes_to(std::string_view in, std::string_view decoded, bool plus_is_space) {
  to_comparison sink{decoded};
  return decode(in, plus_is_space, sink) && sink.same && sink.want.empty();
}

}  // namespace hive::detail

#include "util/cidr.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>
#include <stdexcept>

namespace hive::detail {

namespace {

constexpr unsigned v4_offset_bits = 96;  // an IPv4 address sits in the last 4 of the 16 bytes

address16 mapped_v4(const in_addr& a) noexcept {
  address16 out{};
  out[10] = 0xff;
  out[11] = 0xff;
  std::memcpy(out.data() + 12, &a, 4);
  return out;
}

bool in_prefix(const address16& a, const address16& base, unsigned prefix) noexcept {
  const unsigned whole = prefix / 8;
  if (std::memcmp(a.data(), base.data(), whole) != 0) return false;
  const unsigned bits = prefix % 8;
  if (bits == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xff << (8 - bits));
  return (a[whole] & mask) == base[whole];
}

// `a` with every bit past `prefix` cleared.
address16 network_of(const address16& a, unsigned prefix) noexcept {
  address16 out{};
  const unsigned whole = prefix / 8;
  std::memcpy(out.data(), a.data(), whole);
  if (prefix % 8 != 0) out[whole] = static_cast<std::uint8_t>(a[whole] & (0xff << (8 - prefix % 8)));
  return out;
}

std::string to_text(const address16& a, bool v4) {
  char buf[INET6_ADDRSTRLEN] = "";
  if (v4) {
    ::inet_ntop(AF_INET, a.data() + 12, buf, sizeof buf);
  } else {
    ::inet_ntop(AF_INET6, a.data(), buf, sizeof buf);
  }
  return buf;
}

[[noreturn]] void bad_entry(std::string_view entry, const std::string& why) {
  throw std::invalid_argument("'" + std::string(entry) + "' is not a CIDR: " + why);
}

}  // namespace

bool parse_address(std::string_view text, address16& out) noexcept {
  // inet_pton wants a terminated string; the longest IPv6 text form fits INET6_ADDRSTRLEN.
  char buf[INET6_ADDRSTRLEN];
  if (text.empty() || text.size() >= sizeof buf) return false;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  in_addr v4;
  if (::inet_pton(AF_INET, buf, &v4) == 1) {
    out = mapped_v4(v4);
    return true;
  }
  in6_addr v6;
  if (::inet_pton(AF_INET6, buf, &v6) == 1) {
    std::memcpy(out.data(), &v6, 16);
    return true;
  }
  return false;
}

cidr_set::cidr_set(const std::vector<std::string>& entries) {
  for (const std::string& entry : entries) {
    const auto slash = entry.find('/');
    const std::string_view text = std::string_view(entry).substr(0, slash);
    range r{};
    if (!parse_address(text, r.base)) {
      bad_entry(entry, "write ADDRESS or ADDRESS/BITS, as in 10.0.0.0/8, 127.0.0.1, fd00::/8");
    }
    // Whether the text was IPv4 decides the prefix's unit; "::ffff:10.0.0.0/104" is IPv6 text.
    const bool v4 = text.find(':') == std::string_view::npos;
    const unsigned max = v4 ? 32 : 128;
    r.prefix = max;
    if (slash != std::string::npos) {
      const std::string_view digits = std::string_view(entry).substr(slash + 1);
      unsigned n = 0;
      const auto res = std::from_chars(digits.data(), digits.data() + digits.size(), n);
      if (digits.empty() || res.ec != std::errc() || res.ptr != digits.data() + digits.size() || n > max) {
        bad_entry(entry, "its prefix length must be 0.." + std::to_string(max));
      }
      r.prefix = n;
    }
    if (v4) r.prefix += v4_offset_bits;
    if (const address16 net = network_of(r.base, r.prefix); net != r.base) {
      const unsigned shown = v4 ? r.prefix - v4_offset_bits : r.prefix;
      bad_entry(entry, "it has bits set past its prefix length; the network is " + to_text(net, v4) +
                           "/" + std::to_string(shown));
    }
    ranges_.push_back(r);
  }
}

bool cidr_set::contains(const address16& a) const noexcept {
  for (const range& r : ranges_) {
    if (in_prefix(a, r.base, r.prefix)) return true;
  }
  return false;
}

bool cidr_set::contains(const sockaddr* sa) const noexcept {
  if (sa == nullptr) return false;
  if (sa->sa_family == AF_INET) {
    sockaddr_in in;
    std::memcpy(&in, sa, sizeof in);  // sockaddr may not be aligned for sockaddr_in
    return contains(mapped_v4(in.sin_addr));
  }
  if (sa->sa_family == AF_INET6) {
    sockaddr_in6 in6;
    std::memcpy(&in6, sa, sizeof in6);
    address16 a;
    std::memcpy(a.data(), &in6.sin6_addr, 16);
    return contains(a);
  }
  return false;
}

}  // namespace hive::detail

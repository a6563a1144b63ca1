// A set of address ranges (CIDRs) that a peer's address is tested against: which proxies'
// X-Forwarded-For / Forwarded headers to believe (options::trusted_proxies). Built once at start;
// contains() runs per request, so it neither allocates nor throws.
//
//   const cidr_set trusted({"10.0.0.0/8", "::1"});   // throws std::invalid_argument on a bad entry
//   if (trusted.contains(peer_sockaddr)) { ... }
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hive::detail {

// An IPv4 or IPv6 address in network byte order, 16 bytes. IPv4 is held IPv4-mapped
// (::ffff:a.b.c.d), which is also how a dual-stack IPv6 socket reports an IPv4 peer, so one
// comparison serves both families and such a peer matches IPv4 ranges.
using address16 = std::array<std::uint8_t, 16>;

// "10.1.2.3" or "fd00::1" (no zone, no brackets, no port) into `out`; false if it is neither.
bool parse_address(std::string_view text, address16& out) noexcept;

class cidr_set {
 public:
  cidr_set() = default;  // contains nothing
  // Each entry is "ADDRESS/PREFIX" or a bare address (/32 for IPv4, /128 for IPv6). An entry
  // with bits set past its prefix ("10.0.0.1/8") is refused rather than guessed at: it is a
  // security setting, and a typo could trust a whole network. Throws std::invalid_argument
  // naming the entry.
  explicit cidr_set(const std::vector<std::string>& entries);

  bool contains(const address16& a) const noexcept;
  // `sa` points to a sockaddr_in, a sockaddr_in6 or a sockaddr_storage holding one of them (as
  // getpeername or accept fill in); any other family is not contained.
  bool contains(const sockaddr* sa) const noexcept;
  bool empty() const noexcept { return ranges_.empty(); }

 private:
  struct range {
    address16 base;   // bits past `prefix` are zero
    unsigned prefix;  // in bits of the 16-byte form: an IPv4 /8 is 96 + 8
  };
  std::vector<range> ranges_;
};

}  // namespace hive::detail

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "util/cidr.hpp"

using hive::detail::address16;
using hive::detail::cidr_set;

namespace {

address16 addr(const char* text) {
  address16 a{};
  REQUIRE_MESSAGE(hive::detail::parse_address(text, a), text);
  return a;
}

bool has(const cidr_set& s, const char* text) { return s.contains(addr(text)); }

std::string refusal(const std::string& entry) {
  try {
    cidr_set s({entry});
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("cidr_set: IPv4 ranges, a bare address is /32") {
  const cidr_set s({"10.0.0.0/8", "127.0.0.1", "192.168.0.0/23"});
  CHECK(has(s, "10.0.0.0"));
  CHECK(has(s, "10.255.1.2"));
  CHECK_FALSE(has(s, "11.0.0.0"));
  CHECK_FALSE(has(s, "9.255.255.255"));
  CHECK(has(s, "127.0.0.1"));
  CHECK_FALSE(has(s, "127.0.0.2"));
  CHECK(has(s, "192.168.1.255"));  // a prefix that ends inside a byte
  CHECK_FALSE(has(s, "192.168.2.0"));
  CHECK_FALSE(has(s, "::1"));
}

TEST_CASE("cidr_set: IPv6 ranges, a bare address is /128") {
  const cidr_set s({"::1/128", "fd00::/8", "2001:db8:8000::/33", "fe80::1"});
  CHECK(has(s, "::1"));
  CHECK_FALSE(has(s, "::2"));
  CHECK(has(s, "fd12:3456::1"));
  CHECK_FALSE(has(s, "fc00::1"));
  CHECK(has(s, "2001:db8:ffff::1"));
  CHECK_FALSE(has(s, "2001:db8:7fff::1"));
  CHECK(has(s, "fe80::1"));
  CHECK_FALSE(has(s, "fe80::2"));
  CHECK_FALSE(has(s, "127.0.0.1"));
}

TEST_CASE("cidr_set: an IPv4-mapped IPv6 address matches IPv4 ranges") {
  const cidr_set s({"10.0.0.0/8"});
  CHECK(has(s, "::ffff:10.1.2.3"));
  CHECK_FALSE(has(s, "::ffff:11.1.2.3"));
  CHECK_FALSE(has(s, "::10.1.2.3"));  // the deprecated IPv4-compatible form is a different address
  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  REQUIRE(::inet_pton(AF_INET6, "::ffff:10.9.8.7", &in6.sin6_addr) == 1);
  CHECK(s.contains(reinterpret_cast<const sockaddr*>(&in6)));
}

TEST_CASE("cidr_set: /0 covers its family; ::/0 covers everything") {
  const cidr_set v4({"0.0.0.0/0"});
  CHECK(has(v4, "1.2.3.4"));
  CHECK(has(v4, "255.255.255.255"));
  CHECK_FALSE(has(v4, "2001:db8::1"));
  const cidr_set v6({"::/0"});
  CHECK(has(v6, "2001:db8::1"));
  CHECK(has(v6, "1.2.3.4"));
}

TEST_CASE("cidr_set: contains() takes a peer's sockaddr; other families are not contained") {
  const cidr_set s({"127.0.0.0/8", "::1"});
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_addr.s_addr = htonl(0x7f000005);  // 127.0.0.5
  CHECK(s.contains(reinterpret_cast<const sockaddr*>(&in)));
  in.sin_addr.s_addr = htonl(0x80000001);  // 128.0.0.1
  CHECK_FALSE(s.contains(reinterpret_cast<const sockaddr*>(&in)));
  sockaddr_storage st{};
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&st);
  in6->sin6_family = AF_INET6;
  in6->sin6_addr = in6addr_loopback;
  CHECK(s.contains(reinterpret_cast<const sockaddr*>(&st)));
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  CHECK_FALSE(s.contains(reinterpret_cast<const sockaddr*>(&un)));
  CHECK_FALSE(s.contains(static_cast<const sockaddr*>(nullptr)));
  CHECK_FALSE(cidr_set().contains(addr("127.0.0.1")));
  CHECK(cidr_set().empty());
}

TEST_CASE("cidr_set: malformed entries are refused, naming the entry") {
  for (const char* bad : {"", "10.0.0.0/", "10.0.0.0/33", "::/129", "10.0.0/8", "10.0.0.0/+8",
                          "10.0.0.0/-1", "10.0.0.0/8x", "fe80::1%eth0", "[::1]", "localhost",
                          " 10.0.0.0/8", "10.0.0.0 /8", "1.2.3.4.5", "::1/128/1"}) {
    std::string want = "'";  // built with +=: "'" + std::string trips GCC 12's -Wrestrict
    want += bad;
    want += "' is not a CIDR";
    CHECK_MESSAGE(refusal(bad).find(want) != std::string::npos, bad);
  }
  CHECK(refusal("10.0.0.0/33").find("0..32") != std::string::npos);
  CHECK(refusal("::/129").find("0..128") != std::string::npos);
}

TEST_CASE("cidr_set: bits past the prefix are refused with the network the entry names") {
  CHECK(refusal("10.0.0.1/8").find("the network is 10.0.0.0/8") != std::string::npos);
  CHECK(refusal("192.168.1.0/23").find("the network is 192.168.0.0/23") != std::string::npos);
  CHECK(refusal("fd00::1/8").find("the network is fd00::/8") != std::string::npos);
  CHECK(refusal("10.0.0.0/8").empty());
  CHECK(refusal("0.0.0.0/0").empty());
}

TEST_CASE("parse_address: one address, nothing else") {
  address16 a{};
  CHECK(hive::detail::parse_address("1.2.3.4", a));
  CHECK(a == address16{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4});
  CHECK_FALSE(hive::detail::parse_address("", a));
  CHECK_FALSE(hive::detail::parse_address("1.2.3.4:80", a));
  CHECK_FALSE(hive::detail::parse_address(std::string(100, '1'), a));
  const std::string_view not_terminated = std::string_view("1.2.3.45", 7);  // "1.2.3.4"
  CHECK(hive::detail::parse_address(not_terminated, a));
  CHECK(a[15] == 4);
}

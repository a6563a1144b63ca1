// --trusted-proxies / HIVE_TRUSTED_PROXIES: a comma-separated CIDR list, checked when parsed.
#include <doctest/doctest.h>

#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include <hive/options.hpp>

#include "unit/options_helpers.hpp"

using hive::test::parse;
using hive::test::parse_error;

namespace {
using list = std::vector<std::string>;
}  // namespace

TEST_CASE("options: --trusted-proxies takes IPv4 and IPv6 CIDRs and bare addresses") {
  CHECK(parse({}).trusted_proxies.empty());
  CHECK(parse({"--trusted-proxies", "10.0.0.0/8,127.0.0.1,::1/128,fd00::/8"}).trusted_proxies ==
        list{"10.0.0.0/8", "127.0.0.1", "::1/128", "fd00::/8"});
  CHECK(parse({"--trusted-proxies=10.0.0.0/8, ::1"}).trusted_proxies == list{"10.0.0.0/8", "::1"});
  CHECK(parse({"--trusted-proxies", ""}).trusted_proxies.empty());  // none, e.g. over the variable
}

TEST_CASE("options: HIVE_TRUSTED_PROXIES, replaced (not extended) by the flag") {
  ::setenv("HIVE_TRUSTED_PROXIES", "192.168.0.0/16", 1);
  const auto env_only = parse({});
  const auto flagged = parse({"--trusted-proxies", "::1"});
  ::unsetenv("HIVE_TRUSTED_PROXIES");
  CHECK(env_only.trusted_proxies == list{"192.168.0.0/16"});
  CHECK(flagged.trusted_proxies == list{"::1"});
}

TEST_CASE("options: a malformed --trusted-proxies entry is a bad value naming it") {
  const auto m = parse_error({"--trusted-proxies", "10.0.0.0/8,10.0.0.0/33"});
  CHECK(m.find("--trusted-proxies") != std::string::npos);
  CHECK(m.find("'10.0.0.0/33' is not a CIDR") != std::string::npos);
  CHECK(parse_error({"--trusted-proxies", "10.0.0.0/8,,::1"}).find("--trusted-proxies") != std::string::npos);
  CHECK(parse_error({"--trusted-proxies", "10.0.0.0/8,"}).find("--trusted-proxies") != std::string::npos);
  CHECK(parse_error({"--trusted-proxies", "proxy.internal"}).find("--trusted-proxies") != std::string::npos);
  CHECK(parse_error({"--trusted-proxies", "10.0.0.1/8"}).find("the network is 10.0.0.0/8") != std::string::npos);
  ::setenv("HIVE_TRUSTED_PROXIES", "nope", 1);
  const auto env = parse_error({});
  ::unsetenv("HIVE_TRUSTED_PROXIES");
  CHECK(env.find("HIVE_TRUSTED_PROXIES") != std::string::npos);
}

TEST_CASE("options: usage lists --trusted-proxies") {
  const auto u = hive::options::usage();
  CHECK(u.find("--trusted-proxies") != std::string::npos);
  CHECK(u.find("HIVE_TRUSTED_PROXIES") != std::string::npos);
}

// Black-box probes for the conformance suite: raw bytes to a running hive serving the same app as
// examples/hello (GET anything → "Hello, world!\n", POST /echo → the body back), and what came
// back. Every probe is followed by a canary request; a rejected request must be the last thing the
// server reads on its connection, so the canary must never be answered.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <hive/hive.hpp>

#include "support/client.hpp"

namespace conformance {

// examples/hello's routes.
const hive::app& hello_app();
// Options for the suite: the defaults, with timeouts short enough for a test.
hive::options suite_options();

struct outcome {
  std::vector<hive::test::parsed_response> responses;
  std::string rest;  // bytes after the last whole response: must be empty
  bool malformed = false;
  bool closed = false;
};

// A fresh hello server per test case.
struct fixture {
  hive::test::test_server srv{hello_app(), suite_options()};
  // Sends `raw` then the canary ("GET /canary", Connection: close) and reads until the server
  // closes. `head[i]` says the i-th response answers a HEAD.
  outcome probe(std::string_view raw, const std::vector<bool>& head = {});
  // The request is refused with `status` and `Connection: close`, nothing after it is answered
  // (no canary) and the connection is closed.
  void rejected(std::string_view raw, int status);
  // The request (one or more of them) is answered with `statuses`, then the canary: the
  // connection stayed usable.
  outcome served(std::string_view raw, std::vector<int> statuses);
};

// The suite's app in a sans-I/O session, no socket: every byte it writes for `raw`, fed whole or
// one byte per read (`bytewise`). Over loopback the kernel decides how bytes group into reads;
// here every split really happens.
std::string session_output(std::string_view raw, bool bytewise);

// One request a server must refuse, and the status it must refuse it with.
struct bad {
  const char* what;
  std::string raw;
  int status;
};

// fixture::rejected for each case, naming the case in any failure.
void all_rejected(fixture& f, const std::vector<bad>& cases);

// A literal with embedded NULs, without its terminating one.
template <std::size_t N>
std::string bytes(const char (&literal)[N]) {
  return std::string(literal, N - 1);
}

// One request with a Host; `extra` is more header lines, each ending in CRLF.
std::string get(std::string_view target, std::string_view extra = {});
std::string post(std::string_view target, std::string_view extra, std::string_view body);

}  // namespace conformance

// A small, strict HTTP/1.1 response reader for the tests: splits a byte stream into responses
// (Content-Length framing, and chunked for streamed bodies) so tests can assert on each.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hive::test {

struct parsed_response {
  std::string version;
  int status = 0;
  std::string reason;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // Case-insensitive; the first match.
  std::optional<std::string> header(std::string_view name) const;
  int count(std::string_view name) const;
};

struct read_result {
  std::vector<parsed_response> responses;
  std::string rest;      // bytes after the last complete response
  bool malformed = false;
};

// `head_requests[i]` says whether the i-th response answers a HEAD (no body follows).
// `keep_rest` false skips copying what follows the last complete response (polling loops).
read_result read_responses(std::string_view bytes, const std::vector<bool>& head_requests = {},
                           bool keep_rest = true);

}  // namespace hive::test

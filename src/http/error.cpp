#include "http/error.hpp"

#include <string>

namespace hive::detail {

namespace {

class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "hive.http"; }
  std::string message(int ev) const override {
    switch (static_cast<error>(ev)) {
      case error::bad_request_line: return "malformed request line";
      case error::unknown_method: return "unknown method";
      case error::bad_version: return "unsupported HTTP version";
      case error::bad_header: return "malformed header field";
      case error::bad_host: return "missing or repeated Host";
      case error::bad_content_length: return "invalid Content-Length";
      case error::bad_transfer_encoding: return "invalid Transfer-Encoding";
      case error::unknown_transfer_encoding: return "unsupported transfer coding";
      case error::bad_chunk: return "malformed chunked body";
      case error::target_too_long: return "request target too long";
      case error::header_too_large: return "header section too large";
      case error::too_many_headers: return "too many header fields";
      case error::body_too_large: return "body too large";
      case error::expectation_failed: return "unsupported expectation";
      case error::header_timeout: return "header section timed out";
      case error::body_timeout: return "body timed out";
    }
    return "unknown error";
  }
};

}  // namespace

const std::error_category& http_category() {
  static const category c;
  return c;
}

std::error_code make_error_code(error e) { return {static_cast<int>(e), http_category()}; }

int status_of(error e) {
  switch (e) {
    case error::unknown_method:
    case error::unknown_transfer_encoding: return 501;
    case error::bad_version: return 505;
    case error::target_too_long: return 414;
    case error::header_too_large:
    case error::too_many_headers: return 431;
    case error::body_too_large: return 413;
    case error::expectation_failed: return 417;
    case error::header_timeout:
    case error::body_timeout: return 408;
    default: return 400;
  }
}

}  // namespace hive::detail

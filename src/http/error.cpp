#include "http/error.hpp"

namespace hive::detail {

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

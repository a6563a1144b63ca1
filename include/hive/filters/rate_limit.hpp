// hive::filters::rate_limit — at most `requests` per `per` for each client address (or each key a
// function chooses), counted across the whole cluster: the counters live in a hive::shared_dict,
// mapped before the workers fork, so N workers do not give a client N times the limit. Past it:
// 429 Too Many Requests with Retry-After (seconds), and the handler does not run.
//
//   hive::filters::rate_limit limit({.requests = 100, .per = std::chrono::seconds(1)});  // before hive::run
//   app.use(limit.filter());
//   return hive::run(app, opts);
//
// A token bucket in its GCRA form (the generic cell rate algorithm): one integer per key, the
// time its bucket would be full again, moved by the dictionary's atomic incr_at_least (one
// interval on, from now if that time has passed, stored only when allowed), so no lock is held
// across workers beyond one operation, and that is the only operation per request. A client gets
// one request every per/requests, and up to `burst` at once after a pause. Memory is the
// dictionary's capacity whatever the number of clients: the least recently seen are evicted first
// (an evicted client starts afresh).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "hive/filter.hpp"

namespace hive {
class shared_dict;
}

namespace hive::filters {

struct rate_limit_options {
  std::uint32_t requests = 100;
  std::chrono::milliseconds per{1000};
  // Requests allowed at once after a pause (the bucket's size); 0: requests / 10, at least 1.
  std::uint32_t burst = 0;
  // Shared memory for the counters (two small keys per active client: about 20,000 clients per
  // MiB). At least shared_dict::min_capacity_bytes.
  std::size_t memory_bytes = 4 * 1024 * 1024;
  // Whom a request counts against; default: rate_limit::client_key(request::client_address())
  // (trusted proxies applied).
  std::function<std::string(const request&)> key;
  std::string dict_name = "hive.rate_limit";

  // "100/s", "20/m", "1000/h" (what --rate-limit takes): requests and per. Throws
  // std::invalid_argument otherwise.
  static rate_limit_options parse(std::string_view spec);
};

class rate_limit {
 public:
  // Maps the shared memory: construct it in main() before hive::run (std::logic_error inside a
  // worker). Throws std::invalid_argument for requests 0, per under 1 ms, or too little memory.
  explicit rate_limit(rate_limit_options o);
  ~rate_limit();
  rate_limit(const rate_limit&) = delete;
  rate_limit& operator=(const rate_limit&) = delete;

  // The filter (its before() only); it refers to this object, which must outlive the app's use.
  hive::filter filter();

  struct decision {
    bool allowed = true;
    std::chrono::seconds retry_after{0};  // when refused: at least 1
  };
  // Counts one request against `key` and says whether it may go on.
  decision take(std::string_view key);

  // The default key: an IPv4 address as such, an IPv6 one by its /64 prefix ("2001:db8:1:2::/64"),
  // since a single subscriber is usually handed a whole /64 and could otherwise take a fresh
  // address, and a fresh limit, for every request.
  static std::string client_key(const address& a);

 private:
  rate_limit_options o_;
  std::int64_t interval_us_ = 0;  // per / requests
  std::int64_t tolerance_us_ = 0; // burst × interval
  std::unique_ptr<shared_dict> dict_;
};

}  // namespace hive::filters

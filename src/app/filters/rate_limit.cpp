#include "hive/filters/rate_limit.hpp"

#include <time.h>

#include <algorithm>
#include <charconv>
#include <stdexcept>
#include <string>

#include "hive/shared_dict.hpp"

namespace hive::filters {

rate_limit_options rate_limit_options::parse(std::string_view spec) {
  const auto slash = spec.find('/');
  const std::string_view count = spec.substr(0, slash);
  const std::string_view unit = slash == std::string_view::npos ? std::string_view{} : spec.substr(slash + 1);
  std::uint32_t n = 0;
  const auto [end, ec] = std::from_chars(count.data(), count.data() + count.size(), n);
  rate_limit_options o;
  if (ec != std::errc{} || end != count.data() + count.size() || n == 0) {
    throw std::invalid_argument("rate limit '" + std::string(spec) + "': expected N/s, N/m or N/h with N >= 1 (100/s)");
  }
  if (unit == "s") {
    o.per = std::chrono::seconds(1);
  } else if (unit == "m") {
    o.per = std::chrono::minutes(1);
  } else if (unit == "h") {
    o.per = std::chrono::hours(1);
  } else {
    throw std::invalid_argument("rate limit '" + std::string(spec) + "': the unit must be s, m or h (100/s)");
  }
  o.requests = n;
  return o;
}

rate_limit::rate_limit(rate_limit_options o) : o_(std::move(o)) {
  if (o_.requests == 0) throw std::invalid_argument("hive: rate_limit: requests must be at least 1");
  if (o_.per < std::chrono::milliseconds(1)) throw std::invalid_argument("hive: rate_limit: per must be at least 1 ms");
  if (o_.burst == 0) o_.burst = std::max<std::uint32_t>(1, o_.requests / 10);
  interval_us_ = std::max<std::int64_t>(1, o_.per.count() * 1000 / o_.requests);
  tolerance_us_ = interval_us_ * o_.burst;
  dict_ = std::make_unique<shared_dict>(o_.dict_name, o_.memory_bytes);
}

rate_limit::~rate_limit() = default;

namespace {
std::int64_t monotonic_us() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);  // the same clock in every worker
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}
}  // namespace

// GCRA: `tat` (theoretical arrival time) is when the key's bucket is full again. A request moves
// it one interval on from max(tat, now), allowed while the result is at most burst × interval
// ahead of now: one atomic incr_at_least, which stores the step only when it is allowed. Two
// workers catching up after an idle spell cannot both add the gap (with a read and a write they
// did, and locked the client out for as long as it had been idle), and a refusal changes nothing.
rate_limit::decision rate_limit::take(std::string_view key) {
  const std::int64_t now = monotonic_us();
  const std::string_view k = key.substr(0, shared_dict::max_key_bytes);
  // A key lives until its bucket is full again (at most `tolerance` ahead) and a minute more; the
  // step only ever lengthens its life. A key that expired while tat was still ahead would hand
  // the client a fresh burst (with 100/h, every minute). LRU eviction bounds the memory.
  const auto ttl = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::microseconds(tolerance_us_)) +
                   std::chrono::milliseconds(1) + std::chrono::minutes(1);
  const auto tat = dict_->incr_at_least(k, interval_us_, now, now + tolerance_us_, ttl);
  if (!tat) return {};  // the store refused (a value that is no number): never block on it
  const std::int64_t wait_us = tat.value - now - tolerance_us_;
  if (wait_us <= 0) return {};
  return {false, std::chrono::seconds(std::max<std::int64_t>(1, (wait_us + 999'999) / 1'000'000))};
}

std::string rate_limit::client_key(const address& a) {
  if (a.is_v4()) return a.ip();
  address prefix = a;
  std::fill(prefix.bytes.begin() + 8, prefix.bytes.end(), std::uint8_t{0});
  return prefix.ip() + "/64";
}

hive::filter rate_limit::filter() {
  hive::filter f;
  f.before = [this](const request& req, response& res) {
    const decision d = o_.key ? take(o_.key(req)) : take(client_key(req.client_address()));
    if (d.allowed) return filter_result::next;
    res.status(429).header("Retry-After", std::to_string(d.retry_after.count())).text("Too Many Requests\n");
    return filter_result::answered;
  };
  return f;
}

}  // namespace hive::filters

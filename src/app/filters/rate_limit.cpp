#include "hive/filters/rate_limit.hpp"

#include <charconv>
#include <stdexcept>
#include <string>

#include "hive/shared_dict.hpp"
#include "util/clock.hpp"

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
  dict_ = std::make_unique<shared_dict>(o_.dict_name, o_.memory_bytes);
}

rate_limit::~rate_limit() = default;

rate_limit::decision rate_limit::take(std::string_view key) {
  const std::int64_t per = o_.per.count();
  const std::int64_t now = detail::monotonic_ms();  // CLOCK_MONOTONIC: the same in every worker
  const std::int64_t window = now / per;
  const std::int64_t into = now - window * per;
  // key + '#' + window number; keys are capped by the dictionary.
  std::string k;
  k.reserve(key.size() + 24);
  k.append(key.substr(0, shared_dict::max_key_bytes - 24));
  k += '#';
  const std::size_t base = k.size();
  k += std::to_string(window);
  // Kept two windows: while current, and while it is the previous one.
  const auto cur = dict_->incr(k, 1, 0, std::chrono::milliseconds(2 * per));
  if (!cur) return {};  // the store refused (cannot happen with eviction on): never block on it
  k.resize(base);
  k += std::to_string(window - 1);
  std::int64_t prev = 0;
  if (auto p = dict_->get(k)) std::from_chars(p->data(), p->data() + p->size(), prev);
  // The previous window's share of the last `per`: (per - into) / per of it.
  const std::int64_t weighted = prev * (per - into) / per + cur.value;
  if (weighted <= static_cast<std::int64_t>(o_.requests)) return {};
  // Refused requests do not count: a client that keeps trying still gets its share once the
  // window slides. (The undo may land on a window that just expired: harmless.)
  k.resize(base);
  k += std::to_string(window);
  dict_->incr(k, -1, 0, std::chrono::milliseconds(2 * per));
  // The earliest the weighted count falls under the limit is no later than the window's end.
  const std::int64_t wait_ms = per - into;
  return {false, std::chrono::seconds(std::max<std::int64_t>(1, (wait_ms + 999) / 1000))};
}

hive::filter rate_limit::filter() {
  hive::filter f;
  f.before = [this](const request& req, response& res) {
    const decision d = o_.key ? take(o_.key(req)) : take(req.client_address().ip());
    if (d.allowed) return filter_result::next;
    res.status(429).header("Retry-After", std::to_string(d.retry_after.count())).text("Too Many Requests\n");
    return filter_result::answered;
  };
  return f;
}

}  // namespace hive::filters

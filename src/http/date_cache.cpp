#include "http/date_cache.hpp"

#include <cstdio>

namespace hive::detail {

void date_cache::refresh(std::time_t now) {
  if (now == last_) return;
  last_ = now;
  std::tm tm{};
  gmtime_r(&now, &tm);
  // Formatted by hand: strftime follows the locale, and HTTP dates must be English.
  static constexpr const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::snprintf(buf_, sizeof buf_, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday],
                tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
}

}  // namespace hive::detail

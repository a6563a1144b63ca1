#include "http/date_cache.hpp"

#include <cstdio>

namespace hive::detail {

date_cache::date_cache(std::string_view server_name) {
  if (!server_name.empty()) {
    fields_ = "Server: ";
    fields_ += server_name;
    fields_ += "\r\n";
  }
  fields_ += "Date: ";
  date_at_ = fields_.size();
  fields_ += "Sun, 06 Nov 1994 08:49:37 GMT\r\n";
  refresh(std::time(nullptr));
}

void date_cache::refresh(std::time_t now) {
  if (now == last_) return;
  last_ = now;
  std::tm tm{};
  gmtime_r(&now, &tm);
  // Formatted by hand: strftime follows the locale, and HTTP dates must be English.
  static constexpr const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday],
                tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
                tm.tm_hour, tm.tm_min, tm.tm_sec);
  fields_.replace(date_at_, 29, buf, 29);
}

}  // namespace hive::detail

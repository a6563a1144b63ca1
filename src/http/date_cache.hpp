// The IMF-fixdate for the `Date` header, formatted once a second by the worker's timer rather
// than once per response.
#pragma once

#include <ctime>
#include <string_view>

namespace hive::detail {

class date_cache {
 public:
  date_cache() { refresh(std::time(nullptr)); }
  // Reformats only when the second changed.
  void refresh(std::time_t now);
  std::string_view value() const { return {buf_, 29}; }  // "Sun, 06 Nov 1994 08:49:37 GMT"

 private:
  std::time_t last_ = -1;
  char buf_[32] = {};
};

}  // namespace hive::detail

// The fields every response starts with — `Server` (if any) and `Date` — formatted once a
// second by the worker's timer rather than once per response.
#pragma once

#include <ctime>
#include <string>
#include <string_view>

namespace hive::detail {

class date_cache {
 public:
  explicit date_cache(std::string_view server_name = {});
  // Reformats only when the second changed.
  void refresh(std::time_t now);
  // "Server: hive\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
  std::string_view fields() const { return fields_; }

 private:
  std::time_t last_ = -1;
  std::string fields_;
  std::size_t date_at_ = 0;
};

}  // namespace hive::detail

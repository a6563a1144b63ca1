// At most one log line a second for an event that can come in floods (a worker sending faster
// than its peer reads makes one drop per message): the first line is written, the next ones in
// that second only counted, and the count rides on the next line written.
//
//   if (auto more = limit.allow(monotonic_ms())) warn("dropped …", more->text());
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace hive::detail {

class log_limit {
 public:
  struct held_back {
    std::uint64_t count = 0;  // lines not written since the last one
    // "" or " (and 41 more like it in the last 1.0 s)".
    std::string text() const {
      return count == 0 ? std::string() : " (and " + std::to_string(count) + " more like it since the last such line)";
    }
  };
  // A line may be written now (with what was held back), or nullopt: counted, not written.
  std::optional<held_back> allow(std::int64_t now_ms) {
    if (written_ && now_ms - last_ms_ < 1000) {
      ++held_;
      return std::nullopt;
    }
    written_ = true;
    last_ms_ = now_ms;
    held_back h{held_};
    held_ = 0;
    return h;
  }

 private:
  bool written_ = false;
  std::int64_t last_ms_ = 0;
  std::uint64_t held_ = 0;
};

}  // namespace hive::detail

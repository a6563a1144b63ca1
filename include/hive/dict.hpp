// hive::dict — the interface of a key/value store shared by every worker of a cluster. App code
// takes a `hive::dict&` so that the store behind it can change (today hive::shared_dict, memory
// the primary maps before forking; later perhaps a networked one) without touching the handlers.
// Keys and values are bytes. Errors are values: a full, refused or malformed operation returns a
// status, it never throws.
//
//   void count_hit(hive::dict& d, hive::response& res) {
//     auto n = d.incr("hits", 1);                            // atomic across every worker
//     res.text(n ? std::to_string(n.value) : "error");
//   }
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hive {

enum class dict_status {
  ok,
  exists,       // add: the key is already there (and not expired)
  too_large,    // the key or the value is over the store's documented maximum
  no_memory,    // no room, even after evicting (or eviction is off and the store is full)
  not_integer,  // incr: the value there is not a decimal 64-bit integer
  overflow,     // incr: the result does not fit in 64 bits
};

// What incr returns: the new value when status is ok.
struct incr_result {
  std::int64_t value = 0;
  dict_status status = dict_status::ok;
  explicit operator bool() const { return status == dict_status::ok; }
};

class dict {
 public:
  virtual ~dict() = default;

  // The value, or nullopt if absent or expired.
  virtual std::optional<std::string> get(std::string_view key) = 0;
  // Stores `value`, replacing any other. ttl 0 (or less): never expires. When the dictionary is
  // full and does not evict, a value that does not fit leaves the old one in place (no_memory).
  virtual dict_status set(std::string_view key, std::string_view value,
                          std::chrono::milliseconds ttl = std::chrono::milliseconds{0}) = 0;
  // As set, only if the key is absent (or expired); else dict_status::exists.
  virtual dict_status add(std::string_view key, std::string_view value,
                          std::chrono::milliseconds ttl = std::chrono::milliseconds{0}) = 0;
  // True if the key was there.
  virtual bool erase(std::string_view key) = 0;
  // Adds `delta` atomically to the integer at `key`. An absent key starts at `init` (so the first
  // call returns init + delta) and expires after `ttl` (0: never); an existing key keeps its TTL.
  virtual incr_result incr(std::string_view key, std::int64_t delta, std::int64_t init = 0,
                           std::chrono::milliseconds ttl = std::chrono::milliseconds{0}) = 0;
  // One atomic step of a rate limiter whose value is a time ("the client's next free slot"):
  // v = max(value, floor) + delta, an absent key counting as floor. Stored only if v <= at_most;
  // either way v is returned, so v > at_most means "refused, nothing changed". When stored, the
  // key's expiry moves to now + ttl if that is later (ttl 0: never expires). A store without such
  // a step would need a read and a write, between which another worker could step too.
  virtual incr_result incr_at_least(std::string_view key, std::int64_t delta, std::int64_t floor,
                                    std::int64_t at_most, std::chrono::milliseconds ttl) = 0;
  // Sets the key's time to live from now (0: never expires). False if the key is absent.
  virtual bool expire(std::string_view key, std::chrono::milliseconds ttl) = 0;
};

}  // namespace hive

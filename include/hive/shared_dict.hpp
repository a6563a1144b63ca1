// hive::shared_dict — a named dictionary in memory shared by the primary and every worker, in
// the manner of nginx's lua_shared_dict: declare it in main() before hive::run (or cluster.run()),
// the mapping is made there, before the first fork, and every worker — restarted and reloaded
// ones included — uses the same bytes without a message. It lives as long as the primary.
// With --workers 0 it is the same API in one process.
//
//   hive::shared_dict cache("cache", 16 << 20);    // 16 MiB, least recently used evicted
//   app.post("/hits", [&](const hive::request&, hive::response& res) {
//     res.text(std::to_string(cache.incr("hits", 1).value));
//   });
//   return hive::run(app, opts);
//
// Every operation takes one process-shared robust mutex for a few hundred nanoseconds (no
// syscall unless contended). A worker killed while holding it (kill -9 mid-operation) does not
// leave it locked: the next caller gets EOWNERDEAD, rebuilds the table's links from its entries
// (an entry becomes visible only once complete) and goes on. The interrupted operation is lost
// (an interrupted set may leave the key absent); every other key survives.
//
// Memory never grows past `capacity_bytes`: entries, hash buckets and 60-byte data chunks are all
// carved out of it. When full, the least recently used keys are evicted (or, with
// evict_when_full = false, the operation returns dict_status::no_memory). Expired keys are
// removed when met or evicted first-come with the rest; they are never returned.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "hive/dict.hpp"

namespace hive {

namespace detail {
class dict_table;
}

struct shared_dict_stats {
  std::uint64_t keys = 0;          // live entries (expired ones not yet removed included)
  std::uint64_t max_keys = 0;      // entry slots the capacity gives
  std::uint64_t bytes_used = 0;    // data chunk bytes in use (keys and values)
  std::uint64_t bytes_free = 0;    // data chunk bytes free
  std::uint64_t evictions = 0;     // keys removed to make room
  std::uint64_t expirations = 0;   // expired keys removed
  std::uint64_t recoveries = 0;    // times a dead lock holder's table was rebuilt
};

class shared_dict final : public dict {
 public:
  static constexpr std::size_t max_key_bytes = 256;
  static constexpr std::size_t max_value_bytes = 1024 * 1024;  // and at most what capacity holds
  static constexpr std::size_t min_capacity_bytes = 16 * 1024;

  struct options {
    bool evict_when_full = true;  // false: refuse with dict_status::no_memory instead
  };

  // Maps `capacity_bytes` of shared memory. Throws std::invalid_argument if the capacity is under
  // min_capacity_bytes, std::logic_error if called inside a cluster worker (it would not be
  // shared: declare it before hive::run), std::system_error if the mapping fails.
  shared_dict(std::string name, std::size_t capacity_bytes);
  shared_dict(std::string name, std::size_t capacity_bytes, options opts);
  ~shared_dict() override;
  shared_dict(const shared_dict&) = delete;
  shared_dict& operator=(const shared_dict&) = delete;

  std::optional<std::string> get(std::string_view key) override;
  // As get, into `out` (reusing its capacity); false if absent.
  bool get(std::string_view key, std::string& out);
  dict_status set(std::string_view key, std::string_view value,
                  std::chrono::milliseconds ttl = std::chrono::milliseconds{0}) override;
  dict_status add(std::string_view key, std::string_view value,
                  std::chrono::milliseconds ttl = std::chrono::milliseconds{0}) override;
  bool erase(std::string_view key) override;
  incr_result incr(std::string_view key, std::int64_t delta, std::int64_t init = 0,
                   std::chrono::milliseconds ttl = std::chrono::milliseconds{0}) override;
  incr_result incr_at_least(std::string_view key, std::int64_t delta, std::int64_t floor, std::int64_t at_most,
                            std::chrono::milliseconds ttl) override;
  bool expire(std::string_view key, std::chrono::milliseconds ttl) override;

  const std::string& name() const { return name_; }
  std::size_t capacity() const { return bytes_; }
  shared_dict_stats stats() const;

 private:
  std::string name_;
  void* mem_ = nullptr;
  std::size_t bytes_ = 0;
  detail::dict_table* table_ = nullptr;
};

}  // namespace hive

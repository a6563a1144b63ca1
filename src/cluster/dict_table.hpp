// The table behind hive::shared_dict, laid out inside one block of memory (shared, in a cluster)
// with no pointers, only indices: a header with a robust process-shared mutex, hash buckets,
// a fixed array of entries and a pool of 64-byte data chunks holding each key and value.
//
// Crash consistency: the entries are the truth. An entry is marked live only once its chunks
// are written, and marked dead before it is unlinked, so a process killed at any point leaves
// entries that are each either complete or dead. The next locker gets EOWNERDEAD and rebuild()
// recomputes everything else (buckets, LRU list ordered by each entry's last-use sequence, free
// lists, counts) from them, dropping any entry whose chunk chain does not check out.
//
// The clock is a parameter (milliseconds, CLOCK_MONOTONIC in production) so tests can move it.
#pragma once

#include <pthread.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "hive/dict.hpp"
#include "hive/shared_dict.hpp"

namespace hive::detail {

inline constexpr std::uint32_t dict_nil = 0xffffffffu;
inline constexpr std::size_t dict_chunk_data = 60;

struct dict_entry {
  std::uint32_t hnext;   // next in its hash bucket
  std::uint32_t lprev;   // LRU list: towards the most recently used
  std::uint32_t lnext;   // towards the least recently used; doubles as the free-list link
  std::uint32_t chunk;   // first data chunk: the key, then the value (none for an integer)
  std::uint32_t key_len;
  std::uint32_t val_len;
  std::uint64_t hash;
  std::int64_t expires_ms;  // 0: never
  std::uint64_t seq;        // last use, ordering the LRU list when it is rebuilt
  std::int64_t ival;        // the value when is_int
  std::uint8_t live;
  std::uint8_t is_int;
};

struct dict_chunk {
  std::uint32_t next;
  char data[dict_chunk_data];
};

// Called at numbered points inside mutations; tests make it kill the process there.
extern void (*dict_test_hook)(int point);

class dict_table {
 public:
  // Lays out a fresh table over [mem, mem + bytes); mem aligned to 64. Throws std::invalid_argument
  // if bytes is too small, std::system_error if the mutex cannot be made.
  static dict_table* create(void* mem, std::size_t bytes, bool evict_when_full);

  bool get(std::string_view key, std::int64_t now_ms, std::string& out);
  dict_status set(std::string_view key, std::string_view value, std::int64_t ttl_ms, std::int64_t now_ms,
                  bool only_if_absent);
  bool erase(std::string_view key, std::int64_t now_ms);
  incr_result incr(std::string_view key, std::int64_t delta, std::int64_t init, std::int64_t ttl_ms,
                   std::int64_t now_ms);
  // hive::dict::incr_at_least.
  incr_result incr_at_least(std::string_view key, std::int64_t delta, std::int64_t floor, std::int64_t at_most,
                            std::int64_t ttl_ms, std::int64_t now_ms);
  bool expire(std::string_view key, std::int64_t ttl_ms, std::int64_t now_ms);
  shared_dict_stats stats();

  // Takes the lock and returns with it held (tests: a holder to kill). unlock() releases it.
  void lock();
  void unlock();

 private:
  class guard;
  dict_entry* entries() { return reinterpret_cast<dict_entry*>(base() + entries_off_); }
  dict_chunk* chunks() { return reinterpret_cast<dict_chunk*>(base() + chunks_off_); }
  std::uint32_t* buckets() { return reinterpret_cast<std::uint32_t*>(base() + buckets_off_); }
  char* base() { return reinterpret_cast<char*>(this); }

  // incr and incr_at_least: v = max(value, floor) + delta (absent: max(init, floor) + delta),
  // stored only if v <= at_most; `extend_ttl`: a stored key's expiry becomes the later of its
  // own and now + ttl, else an existing key keeps its own.
  incr_result step(std::string_view key, std::int64_t delta, std::int64_t init, std::int64_t floor,
                   std::int64_t at_most, std::int64_t ttl_ms, std::int64_t now_ms, bool extend_ttl);
  std::uint32_t find(std::string_view key, std::uint64_t h, std::int64_t now_ms);
  bool key_equals(const dict_entry& e, std::string_view key);
  void copy_out(const dict_entry& e, std::size_t from, std::size_t n, std::string& out);
  std::uint32_t chunks_for(std::size_t bytes) const;
  bool make_room(std::uint32_t chunks_needed);
  std::uint32_t insert(std::string_view key, std::uint64_t h, std::string_view value, std::int64_t ival,
                       bool is_int, std::int64_t expires_ms);
  void remove(std::uint32_t i);
  void touch(std::uint32_t i);
  void lru_push_front(std::uint32_t i);
  void lru_unlink(std::uint32_t i);
  void rebuild();
  void clear_after_failed_rebuild();  // allocates nothing

  pthread_mutex_t mu_;
  std::uint64_t magic_;
  std::uint32_t nbuckets_, nentries_, nchunks_;
  std::size_t buckets_off_, entries_off_, chunks_off_;
  bool evict_;
  // Derived state (rebuilt after a crash):
  std::uint32_t free_entry_, free_chunk_, lru_head_, lru_tail_;
  std::uint32_t keys_, chunks_used_;
  std::uint64_t seq_;
  // Counters (kept across rebuilds):
  std::uint64_t evictions_, expirations_, recoveries_;
};

std::uint64_t dict_hash(std::string_view key);

}  // namespace hive::detail

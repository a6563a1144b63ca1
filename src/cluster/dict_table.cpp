#include "cluster/dict_table.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <functional>
#include <new>
#include <stdexcept>
#include <system_error>
#include <vector>

namespace hive::detail {

void (*dict_test_hook)(int point) = nullptr;

namespace {

constexpr std::uint64_t table_magic = 0x68697665'64696374ull;  // "hivedict"
constexpr std::size_t bytes_per_entry = 256;  // the average entry the capacity is split for

std::size_t round64(std::size_t n) { return (n + 63) & ~std::size_t{63}; }

void hook(int point) {
  if (dict_test_hook != nullptr) dict_test_hook(point);
}

// An entry is visible once `live` is 1: its other fields and its chunks must be stored first,
// even if the process dies right after (the compiler may not sink those stores past it).
void publish_live(dict_entry& e, std::uint8_t v) { __atomic_store_n(&e.live, v, __ATOMIC_RELEASE); }

bool expired(const dict_entry& e, std::int64_t now_ms) { return e.expires_ms != 0 && e.expires_ms <= now_ms; }

// 0: never. A TTL so long that the sum overflows is "never" too, not a deadline in the past.
std::int64_t deadline(std::int64_t ttl_ms, std::int64_t now_ms) {
  std::int64_t at = 0;
  if (ttl_ms <= 0 || __builtin_add_overflow(now_ms, ttl_ms, &at)) return 0;
  return at;
}

}  // namespace

std::uint64_t dict_hash(std::string_view key) { return std::hash<std::string_view>{}(key); }

class dict_table::guard {
 public:
  explicit guard(dict_table& t) : t_(t) { t_.lock(); }
  ~guard() { t_.unlock(); }
  guard(const guard&) = delete;
  guard& operator=(const guard&) = delete;

 private:
  dict_table& t_;
};

dict_table* dict_table::create(void* mem, std::size_t bytes, bool evict_when_full) {
  const std::size_t header = round64(sizeof(dict_table));
  const std::size_t nentries = std::max<std::size_t>(16, bytes / bytes_per_entry);
  std::size_t nbuckets = 16;
  while (nbuckets < nentries) nbuckets *= 2;
  const std::size_t fixed = header + round64(nbuckets * 4) + round64(nentries * sizeof(dict_entry));
  if (bytes < fixed + 16 * sizeof(dict_chunk) || nentries >= dict_nil) {
    throw std::invalid_argument("hive: shared dictionary capacity too small or too large");
  }
  auto* t = new (mem) dict_table;
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  const int rc = pthread_mutex_init(&t->mu_, &attr);
  pthread_mutexattr_destroy(&attr);
  if (rc != 0) throw std::system_error(rc, std::system_category(), "hive: shared dictionary mutex");
  t->magic_ = table_magic;
  t->nbuckets_ = static_cast<std::uint32_t>(nbuckets);
  t->nentries_ = static_cast<std::uint32_t>(nentries);
  t->buckets_off_ = header;
  t->entries_off_ = header + round64(nbuckets * 4);
  t->chunks_off_ = fixed;
  t->nchunks_ = static_cast<std::uint32_t>(std::min<std::size_t>((bytes - fixed) / sizeof(dict_chunk), dict_nil - 1));
  t->evict_ = evict_when_full;
  t->evictions_ = t->expirations_ = t->recoveries_ = 0;
  t->seq_ = 0;
  auto* ents = t->entries();
  for (std::uint32_t i = 0; i < t->nentries_; ++i) std::memset(&ents[i], 0, sizeof(dict_entry));
  t->rebuild();  // with no live entry: empty buckets, everything on the free lists
  return t;
}

void dict_table::lock() {
  const int rc = pthread_mutex_lock(&mu_);
  if (rc == EOWNERDEAD) {
    // Its holder died mid-operation: entries are complete or dead, the rest is recomputed. If
    // that cannot get the memory it needs, the contents are dropped rather than the lock left
    // held, which would stop every worker that touches the dictionary.
    try {
      rebuild();
    } catch (...) {
      clear_after_failed_rebuild();
    }
    ++recoveries_;
    pthread_mutex_consistent(&mu_);
  } else if (rc != 0) {
    throw std::system_error(rc, std::system_category(), "hive: shared dictionary lock");
  }
}

void dict_table::unlock() { pthread_mutex_unlock(&mu_); }

std::uint32_t dict_table::chunks_for(std::size_t bytes) const {
  return static_cast<std::uint32_t>((bytes + dict_chunk_data - 1) / dict_chunk_data);
}

bool dict_table::key_equals(const dict_entry& e, std::string_view key) {
  if (e.key_len != key.size()) return false;
  const dict_chunk* c = chunks();
  std::uint32_t at = e.chunk;
  for (std::size_t off = 0; off < key.size(); off += dict_chunk_data, at = c[at].next) {
    const std::size_t n = std::min(dict_chunk_data, key.size() - off);
    if (std::memcmp(c[at].data, key.data() + off, n) != 0) return false;
  }
  return true;
}

void dict_table::copy_out(const dict_entry& e, std::size_t from, std::size_t n, std::string& out) {
  out.resize(n);
  const dict_chunk* c = chunks();
  std::uint32_t at = e.chunk;
  for (std::size_t skip = from / dict_chunk_data; skip > 0; --skip) at = c[at].next;
  std::size_t in = from % dict_chunk_data;
  for (std::size_t done = 0; done < n; at = c[at].next, in = 0) {
    const std::size_t k = std::min(dict_chunk_data - in, n - done);
    std::memcpy(out.data() + done, c[at].data + in, k);
    done += k;
  }
}

std::uint32_t dict_table::find(std::string_view key, std::uint64_t h, std::int64_t now_ms) {
  dict_entry* ents = entries();
  for (std::uint32_t i = buckets()[h & (nbuckets_ - 1)]; i != dict_nil; i = ents[i].hnext) {
    if (ents[i].hash != h || !key_equals(ents[i], key)) continue;
    if (expired(ents[i], now_ms)) {
      remove(i);
      ++expirations_;
      return dict_nil;
    }
    return i;
  }
  return dict_nil;
}

void dict_table::lru_unlink(std::uint32_t i) {
  dict_entry* ents = entries();
  dict_entry& e = ents[i];
  (e.lprev == dict_nil ? lru_head_ : ents[e.lprev].lnext) = e.lnext;
  (e.lnext == dict_nil ? lru_tail_ : ents[e.lnext].lprev) = e.lprev;
}

void dict_table::lru_push_front(std::uint32_t i) {
  dict_entry* ents = entries();
  ents[i].lprev = dict_nil;
  ents[i].lnext = lru_head_;
  (lru_head_ == dict_nil ? lru_tail_ : ents[lru_head_].lprev) = i;
  lru_head_ = i;
}

void dict_table::touch(std::uint32_t i) {
  entries()[i].seq = ++seq_;
  if (lru_head_ == i) return;
  lru_unlink(i);
  lru_push_front(i);
}

void dict_table::remove(std::uint32_t i) {
  dict_entry* ents = entries();
  dict_entry& e = ents[i];
  publish_live(e, 0);  // dead first: from here a crash just frees it
  hook(10);
  std::uint32_t* link = &buckets()[e.hash & (nbuckets_ - 1)];
  while (*link != i) link = &ents[*link].hnext;
  *link = e.hnext;
  lru_unlink(i);
  const std::uint32_t n = chunks_for(e.key_len + (e.is_int ? 0 : e.val_len));
  if (n > 0) {
    dict_chunk* c = chunks();
    std::uint32_t last = e.chunk;
    for (std::uint32_t k = 1; k < n; ++k) last = c[last].next;
    c[last].next = free_chunk_;
    free_chunk_ = e.chunk;
  }
  chunks_used_ -= n;
  e.lnext = free_entry_;
  free_entry_ = i;
  --keys_;
}

bool dict_table::make_room(std::uint32_t chunks_needed) {
  while (free_entry_ == dict_nil || nchunks_ - chunks_used_ < chunks_needed) {
    if (!evict_ || lru_tail_ == dict_nil) return false;
    remove(lru_tail_);
    ++evictions_;
  }
  return true;
}

std::uint32_t dict_table::insert(std::string_view key, std::uint64_t h, std::string_view value, std::int64_t ival,
                                 bool is_int, std::int64_t expires_ms) {
  const std::size_t total = key.size() + (is_int ? 0 : value.size());
  const std::uint32_t need = chunks_for(total);
  if (need > nchunks_ || !make_room(need)) return dict_nil;
  dict_entry* ents = entries();
  const std::uint32_t i = free_entry_;
  free_entry_ = ents[i].lnext;
  dict_entry& e = ents[i];
  // Copy key then value into `need` chunks taken from the free list.
  dict_chunk* c = chunks();
  e.chunk = need > 0 ? free_chunk_ : dict_nil;
  std::uint32_t at = free_chunk_, last = dict_nil;
  std::size_t done = 0;
  for (std::uint32_t k = 0; k < need; ++k, last = at, at = c[at].next) {
    for (std::size_t off = 0; off < dict_chunk_data && done < total; ++off, ++done) {
      c[at].data[off] = done < key.size() ? key[done] : value[done - key.size()];
    }
  }
  free_chunk_ = at;
  if (last != dict_nil) c[last].next = dict_nil;
  chunks_used_ += need;
  hook(1);
  e.key_len = static_cast<std::uint32_t>(key.size());
  e.val_len = is_int ? 0 : static_cast<std::uint32_t>(value.size());
  e.hash = h;
  e.expires_ms = expires_ms;
  e.seq = ++seq_;
  e.ival = ival;
  e.is_int = is_int ? 1 : 0;
  std::uint32_t& bucket = buckets()[h & (nbuckets_ - 1)];
  e.hnext = bucket;
  publish_live(e, 1);
  hook(2);
  bucket = i;
  lru_push_front(i);
  ++keys_;
  return i;
}

void dict_table::clear_after_failed_rebuild() {
  dict_entry* ents = entries();
  for (std::uint32_t i = 0; i < nentries_; ++i) ents[i].live = 0;
  std::fill(buckets(), buckets() + nbuckets_, dict_nil);
  lru_head_ = lru_tail_ = dict_nil;
  keys_ = chunks_used_ = 0;
  free_entry_ = dict_nil;
  for (std::uint32_t i = nentries_; i-- > 0;) {
    ents[i].lnext = free_entry_;
    free_entry_ = i;
  }
  dict_chunk* c = chunks();
  free_chunk_ = dict_nil;
  for (std::uint32_t k = nchunks_; k-- > 0;) {
    c[k].next = free_chunk_;
    free_chunk_ = k;
  }
}

void dict_table::rebuild() {
  dict_entry* ents = entries();
  dict_chunk* c = chunks();
  std::vector<std::uint32_t> live;
  for (std::uint32_t i = 0; i < nentries_; ++i) {
    if (ents[i].live != 0) live.push_back(i);
  }
  std::sort(live.begin(), live.end(), [&](std::uint32_t a, std::uint32_t b) { return ents[a].seq > ents[b].seq; });
  std::vector<std::uint8_t> claimed(nchunks_, 0);
  std::fill(buckets(), buckets() + nbuckets_, dict_nil);
  lru_head_ = lru_tail_ = dict_nil;
  keys_ = chunks_used_ = 0;
  std::uint64_t max_seq = 0;
  for (const std::uint32_t i : live) {
    dict_entry& e = ents[i];
    const bool sizes_ok = e.key_len <= shared_dict::max_key_bytes && e.val_len <= shared_dict::max_value_bytes;
    const std::uint32_t n = sizes_ok ? chunks_for(e.key_len + (e.is_int ? 0 : e.val_len)) : 0;
    std::uint32_t at = e.chunk, k = 0;
    for (; sizes_ok && k < n && at < nchunks_ && claimed[at] == 0; ++k, at = c[at].next) claimed[at] = 1;
    if (!sizes_ok || k != n) {
      for (std::uint32_t j = 0, a = e.chunk; j < k; ++j, a = c[a].next) claimed[a] = 0;
      e.live = 0;
      continue;
    }
    std::uint32_t& bucket = buckets()[e.hash & (nbuckets_ - 1)];
    e.hnext = bucket;
    bucket = i;
    e.lnext = dict_nil;
    e.lprev = lru_tail_;
    (lru_tail_ == dict_nil ? lru_head_ : ents[lru_tail_].lnext) = i;
    lru_tail_ = i;
    ++keys_;
    chunks_used_ += n;
    max_seq = std::max(max_seq, e.seq);
  }
  free_entry_ = dict_nil;
  for (std::uint32_t i = nentries_; i-- > 0;) {
    if (ents[i].live != 0) continue;
    ents[i].lnext = free_entry_;
    free_entry_ = i;
  }
  free_chunk_ = dict_nil;
  for (std::uint32_t k = nchunks_; k-- > 0;) {
    if (claimed[k] != 0) continue;
    c[k].next = free_chunk_;
    free_chunk_ = k;
  }
  seq_ = std::max(seq_, max_seq);
}

bool dict_table::get(std::string_view key, std::int64_t now_ms, std::string& out) {
  const std::uint64_t h = dict_hash(key);
  guard g(*this);
  const std::uint32_t i = find(key, h, now_ms);
  if (i == dict_nil) return false;
  touch(i);
  const dict_entry& e = entries()[i];
  if (e.is_int != 0) {
    out = std::to_string(e.ival);
  } else {
    copy_out(e, e.key_len, e.val_len, out);
  }
  return true;
}

dict_status dict_table::set(std::string_view key, std::string_view value, std::int64_t ttl_ms, std::int64_t now_ms,
                            bool only_if_absent) {
  if (key.size() > shared_dict::max_key_bytes || value.size() > shared_dict::max_value_bytes ||
      chunks_for(key.size() + value.size()) > nchunks_) {
    return dict_status::too_large;
  }
  const std::uint64_t h = dict_hash(key);
  guard g(*this);
  const std::uint32_t i = find(key, h, now_ms);
  if (i != dict_nil) {
    if (only_if_absent) return dict_status::exists;
    // Without eviction a value that does not fit must leave the old one in place: room is what
    // is free plus what the old entry frees.
    const dict_entry& old = entries()[i];
    const std::uint32_t frees = chunks_for(old.key_len + (old.is_int != 0 ? 0 : old.val_len));
    if (!evict_ && nchunks_ - chunks_used_ + frees < chunks_for(key.size() + value.size())) {
      return dict_status::no_memory;
    }
    remove(i);
  }
  if (insert(key, h, value, 0, false, deadline(ttl_ms, now_ms)) == dict_nil) return dict_status::no_memory;
  return dict_status::ok;
}

bool dict_table::erase(std::string_view key, std::int64_t now_ms) {
  const std::uint64_t h = dict_hash(key);
  guard g(*this);
  const std::uint32_t i = find(key, h, now_ms);
  if (i == dict_nil) return false;
  remove(i);
  return true;
}

incr_result dict_table::incr(std::string_view key, std::int64_t delta, std::int64_t init, std::int64_t ttl_ms,
                             std::int64_t now_ms) {
  constexpr auto lowest = std::numeric_limits<std::int64_t>::min();
  return step(key, delta, init, lowest, std::numeric_limits<std::int64_t>::max(), ttl_ms, now_ms, false);
}

incr_result dict_table::incr_at_least(std::string_view key, std::int64_t delta, std::int64_t floor,
                                      std::int64_t at_most, std::int64_t ttl_ms, std::int64_t now_ms) {
  return step(key, delta, floor, floor, at_most, ttl_ms, now_ms, true);
}

incr_result dict_table::step(std::string_view key, std::int64_t delta, std::int64_t init, std::int64_t floor,
                             std::int64_t at_most, std::int64_t ttl_ms, std::int64_t now_ms, bool extend_ttl) {
  if (key.size() > shared_dict::max_key_bytes) return {0, dict_status::too_large};
  const std::uint64_t h = dict_hash(key);
  guard g(*this);
  const std::uint32_t i = find(key, h, now_ms);
  std::int64_t v = 0;
  if (i == dict_nil) {
    if (__builtin_add_overflow(std::max(init, floor), delta, &v)) return {0, dict_status::overflow};
    if (v > at_most) return {v, dict_status::ok};
    if (insert(key, h, {}, v, true, deadline(ttl_ms, now_ms)) == dict_nil) return {0, dict_status::no_memory};
    return {v, dict_status::ok};
  }
  dict_entry& e = entries()[i];
  std::int64_t old = e.ival;
  if (e.is_int == 0) {
    // A string value (set("n", "41")): parsed, and stored as an integer from now on.
    std::string text;
    copy_out(e, e.key_len, e.val_len, text);
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), old);
    if (ec != std::errc() || end != text.data() + text.size()) return {0, dict_status::not_integer};
  }
  if (__builtin_add_overflow(std::max(old, floor), delta, &v)) return {0, dict_status::overflow};
  if (v > at_most) return {v, dict_status::ok};
  std::int64_t expires = e.expires_ms;
  if (extend_ttl) {
    // The later of the two deadlines; 0 is "never", later than any.
    const std::int64_t d = deadline(ttl_ms, now_ms);
    expires = expires == 0 || d == 0 ? 0 : std::max(expires, d);
  }
  if (e.is_int != 0) {
    e.ival = v;  // one aligned store: a crash leaves the old value or the new one
    e.expires_ms = expires;
    touch(i);
    return {v, dict_status::ok};
  }
  remove(i);
  if (insert(key, h, {}, v, true, expires) == dict_nil) return {0, dict_status::no_memory};
  return {v, dict_status::ok};
}

bool dict_table::expire(std::string_view key, std::int64_t ttl_ms, std::int64_t now_ms) {
  const std::uint64_t h = dict_hash(key);
  guard g(*this);
  const std::uint32_t i = find(key, h, now_ms);
  if (i == dict_nil) return false;
  entries()[i].expires_ms = deadline(ttl_ms, now_ms);
  return true;
}

shared_dict_stats dict_table::stats() {
  guard g(*this);
  shared_dict_stats s;
  s.keys = keys_;
  s.max_keys = nentries_;
  s.bytes_used = std::uint64_t{chunks_used_} * dict_chunk_data;
  s.bytes_free = std::uint64_t{nchunks_ - chunks_used_} * dict_chunk_data;
  s.evictions = evictions_;
  s.expirations = expirations_;
  s.recoveries = recoveries_;
  return s;
}

}  // namespace hive::detail

#include "hive/shared_dict.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>

#include "cluster/dict_table.hpp"
#include "hive/worker.hpp"
#include "util/clock.hpp"

namespace hive {

shared_dict::shared_dict(std::string name, std::size_t capacity_bytes)
    : shared_dict(std::move(name), capacity_bytes, options{}) {}

shared_dict::shared_dict(std::string name, std::size_t capacity_bytes, options opts)
    : name_(std::move(name)), bytes_(capacity_bytes) {
  if (capacity_bytes < min_capacity_bytes) {
    throw std::invalid_argument("hive: shared dictionary '" + name_ + "' needs at least " +
                                std::to_string(min_capacity_bytes) + " bytes of capacity");
  }
  if (worker::in_cluster()) {
    throw std::logic_error("hive: shared dictionary '" + name_ +
                           "' made inside a worker would not be shared; declare it before hive::run");
  }
  // MAP_NORESERVE: pages are committed as they are first written, up to the capacity.
  void* p = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    throw std::system_error(errno, std::system_category(), "hive: cannot map shared dictionary '" + name_ + "'");
  }
  mem_ = p;
  try {
    table_ = detail::dict_table::create(mem_, bytes_, opts.evict_when_full);
  } catch (...) {
    ::munmap(mem_, bytes_);
    throw;
  }
}

shared_dict::~shared_dict() {
  if (mem_ != nullptr) ::munmap(mem_, bytes_);
}

std::optional<std::string> shared_dict::get(std::string_view key) {
  std::string out;
  if (!table_->get(key, detail::monotonic_ms(), out)) return std::nullopt;
  return out;
}

bool shared_dict::get(std::string_view key, std::string& out) {
  return table_->get(key, detail::monotonic_ms(), out);
}

dict_status shared_dict::set(std::string_view key, std::string_view value, std::chrono::milliseconds ttl) {
  return table_->set(key, value, ttl.count(), detail::monotonic_ms(), false);
}

dict_status shared_dict::add(std::string_view key, std::string_view value, std::chrono::milliseconds ttl) {
  return table_->set(key, value, ttl.count(), detail::monotonic_ms(), true);
}

bool shared_dict::erase(std::string_view key) { return table_->erase(key, detail::monotonic_ms()); }

incr_result shared_dict::incr(std::string_view key, std::int64_t delta, std::int64_t init,
                              std::chrono::milliseconds ttl) {
  return table_->incr(key, delta, init, ttl.count(), detail::monotonic_ms());
}

incr_result shared_dict::incr_at_least(std::string_view key, std::int64_t delta, std::int64_t floor,
                                       std::int64_t at_most, std::chrono::milliseconds ttl) {
  return table_->incr_at_least(key, delta, floor, at_most, ttl.count(), detail::monotonic_ms());
}

bool shared_dict::expire(std::string_view key, std::chrono::milliseconds ttl) {
  return table_->expire(key, ttl.count(), detail::monotonic_ms());
}

shared_dict_stats shared_dict::stats() const { return table_->stats(); }

}  // namespace hive

#include "net/input_buffer.hpp"

#include <algorithm>
#include <cstring>

namespace hive::detail {

void input_buffer::reserve_free(std::size_t min_free) {
  if (cap - len >= min_free) return;
  const std::size_t bigger = std::max(cap * 2, len + min_free);
  std::unique_ptr<char[]> p(new char[bigger]);
  if (len != 0) std::memcpy(p.get(), data.get(), len);
  data = std::move(p);
  cap = bigger;
}

input_buffer input_pool::take() {
  if (!free_.empty()) {
    input_buffer b = std::move(free_.back());
    free_.pop_back();
    return b;
  }
  input_buffer b;
  b.data.reset(new char[bytes_]);
  b.cap = bytes_;
  return b;
}

void input_pool::give(input_buffer b) {
  if (!b || free_.size() >= keep_) return;
  b.len = 0;
  if (b.cap != bytes_) {
    b.data.reset(new char[bytes_]);
    b.cap = bytes_;
  }
  free_.push_back(std::move(b));
}

}  // namespace hive::detail

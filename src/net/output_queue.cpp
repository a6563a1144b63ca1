#include "net/output_queue.hpp"

#include <algorithm>
#include <cstring>

namespace hive::detail {

namespace {
// An arena that grew past this for one large response is freed when the connection goes idle.
constexpr std::size_t keep_arena_bytes = 256 * 1024;
constexpr std::size_t min_arena_bytes = 4096;
}  // namespace

char* output_queue::append_space(std::size_t n) {
  const std::size_t at = arena_len_;
  if (arena_cap_ - at < n) {
    // The capacity is kept from response to response: no allocation in the steady state.
    const std::size_t cap = std::max({arena_cap_ * 2, at + n, min_arena_bytes});
    std::unique_ptr<char[]> bigger(new char[cap]);
    if (at != 0) std::memcpy(bigger.get(), arena_.get(), at);
    arena_ = std::move(bigger);
    arena_cap_ = cap;
  }
  arena_len_ = at + n;
  if (!segs_.empty() && segs_.back().k == kind::arena && segs_.back().off + segs_.back().len == at) {
    segs_.back().len += n;
  } else {
    segs_.push_back({kind::arena, at, n, nullptr, -1, {}});
  }
  queued_ += n;
  return arena_.get() + at;
}

void output_queue::append(std::string_view bytes) {
  if (bytes.empty()) return;
  std::memcpy(append_space(bytes.size()), bytes.data(), bytes.size());
}

void output_queue::append_view(std::string_view bytes, std::shared_ptr<const void> keep) {
  if (bytes.empty()) return;
  segs_.push_back({kind::view, 0, bytes.size(), bytes.data(), -1, std::move(keep)});
  queued_ += bytes.size();
}

void output_queue::append_file(file_range range, std::shared_ptr<const void> keep) {
  if (range.length == 0) return;
  segs_.push_back({kind::file, range.offset, range.length, nullptr, range.fd, std::move(keep)});
  queued_ += range.length;
}

int output_queue::next(iovec* iov, int max, file_range& file) const {
  int n = 0;
  for (std::size_t i = front_; i < segs_.size() && n < max; ++i) {
    const segment& s = segs_[i];
    if (s.k == kind::file) {
      file = {s.fd, s.off, s.len};
      break;
    }
    const char* p = s.k == kind::arena ? arena_.get() + s.off : s.ptr;
    iov[n++] = {const_cast<char*>(p), static_cast<std::size_t>(s.len)};
  }
  return n;
}

void output_queue::consume(std::size_t n) {
  queued_ -= n;
  while (n > 0) {
    segment& s = segs_[front_];
    if (n < s.len) {
      s.off += n;  // the arena offset, or the file offset
      if (s.k == kind::view) s.ptr += n;
      s.len -= n;
      return;
    }
    n -= s.len;
    s.keep.reset();
    ++front_;
  }
  if (front_ == segs_.size()) {
    // Everything written: start over at the front, keeping the capacity.
    segs_.clear();
    arena_len_ = 0;
    front_ = 0;
  }
}

void output_queue::clear() {
  segs_.clear();
  arena_len_ = 0;
  front_ = 0;
  queued_ = 0;
}

void output_queue::release() {
  if (!empty()) return;
  arena_.reset();
  arena_cap_ = 0;
  arena_len_ = 0;
  std::vector<segment>().swap(segs_);
  front_ = 0;
}

void output_queue::shrink() {
  if (arena_cap_ > keep_arena_bytes && empty()) {
    arena_.reset();
    arena_cap_ = 0;
  }
}

}  // namespace hive::detail

// Bytes read from a client and not yet consumed by its protocol, and the worker's pool of them.
// A connection borrows a buffer while a message is in progress and gives it back when it goes
// idle, so an idle keep-alive connection holds none; a busy worker allocates none per request.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <vector>

namespace hive::detail {

struct input_buffer {
  // Not a std::string: growing one zero-fills it.
  std::unique_ptr<char[]> data;
  std::size_t cap = 0;
  std::size_t len = 0;  // [0, len) holds received bytes

  explicit operator bool() const { return data != nullptr; }
  std::span<char> free_space() { return {data.get() + len, cap - len}; }
  // Makes room for at least `min_free` more bytes, keeping [0, len).
  void reserve_free(std::size_t min_free);
};

class input_pool {
 public:
  // `bytes`: the size of a fresh buffer; `keep`: how many idle buffers to hold at most.
  explicit input_pool(std::size_t bytes = 16 * 1024, std::size_t keep = 64)
      : bytes_(bytes), keep_(keep) {}

  input_buffer take();
  // A buffer that grew for one large request goes back at its normal size, so one big upload
  // does not pin its memory for the life of the worker.
  void give(input_buffer b);
  // Frees every idle buffer (the load is gone: return the memory to the system).
  void trim() { free_.clear(); }
  std::size_t idle() const { return free_.size(); }

 private:
  std::size_t bytes_;
  std::size_t keep_;
  std::vector<input_buffer> free_;
};

}  // namespace hive::detail

// Where a request keeps what it decodes on demand (query values with `%` or `+`). The session's
// pooled buffers own one, so its capacity is reused from request to request and the steady state
// allocates nothing.
#pragma once

#include <cstddef>
#include <memory>

namespace hive::detail {

struct request_scratch {
  // Not a std::string: growing one zero-fills it.
  std::unique_ptr<char[]> data;
  std::size_t cap = 0;

  // At least `n` bytes. Growing drops what was there, so a request asks for all it may need
  // (its query's size) before it hands out a view into it.
  char* reserve(std::size_t n) {
    if (n > cap) {
      data = std::make_unique_for_overwrite<char[]>(n);
      cap = n;
    }
    return data.get();
  }
};

}  // namespace hive::detail

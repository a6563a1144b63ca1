// A content coding applied to a response body in memory or as it streams (hive::filters::compress).
// One coder per body; gzip (zlib), br (libbrotli) and zstd (libzstd) live in their own files,
// built only when meson finds the library.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "app/coding/accept_encoding.hpp"

namespace hive::detail {

class body_coder {
 public:
  virtual ~body_coder() = default;
  // Codes `in` and appends it to `out`, flushed: what was appended so far decodes to everything
  // given so far, so a streamed part reaches the client now. `last`: the body ends here and the
  // coding's end is written. False: the library failed (out of memory); the coder is spent.
  virtual bool code(std::string_view in, bool last, std::string& out) = 0;
};

struct coder_settings {
  int level = 0;            // the library's own scale
  int window_log = 15;      // log2 of the history kept, at most
  std::size_t size = 0;     // the whole body's size when known (then coded in one call), else 0
};

// Null when this build lacks the coding's library, or the library could not start (no memory).
std::unique_ptr<body_coder> make_coder(coding c, const coder_settings& s);
// Whether this build has the coding's library.
bool coder_available(coding c);

// The smallest window that holds a body of `size` bytes (and zlib's look-ahead), between 10 and
// `max_log`: a small body needs neither the memory nor the time to clear a large one.
int window_log_for(std::size_t size, int max_log);

std::unique_ptr<body_coder> make_gzip_coder(const coder_settings& s);
std::unique_ptr<body_coder> make_brotli_coder(const coder_settings& s);
std::unique_ptr<body_coder> make_zstd_coder(const coder_settings& s);

}  // namespace hive::detail

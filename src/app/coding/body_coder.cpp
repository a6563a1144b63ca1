#include "app/coding/body_coder.hpp"

// HIVE_HAVE_ZLIB, HIVE_HAVE_BROTLI, HIVE_HAVE_ZSTD: set by meson for the libraries it found.

namespace hive::detail {

bool coder_available(coding c) {
  switch (c) {
    case coding::identity: return false;
#ifdef HIVE_HAVE_ZLIB
    case coding::gzip: return true;
#endif
#ifdef HIVE_HAVE_BROTLI
    case coding::br: return true;
#endif
#ifdef HIVE_HAVE_ZSTD
    case coding::zstd: return true;
#endif
    default: return false;
  }
}

std::unique_ptr<body_coder> make_coder(coding c, const coder_settings& s) {
  switch (c) {
#ifdef HIVE_HAVE_ZLIB
    case coding::gzip: return make_gzip_coder(s);
#endif
#ifdef HIVE_HAVE_BROTLI
    case coding::br: return make_brotli_coder(s);
#endif
#ifdef HIVE_HAVE_ZSTD
    case coding::zstd: return make_zstd_coder(s);
#endif
    default: return nullptr;
  }
}

int window_log_for(std::size_t size, int max_log) {
  int log = 10;
  // 262: zlib's MIN_LOOKAHEAD; a window a little larger than the body costs nothing in ratio.
  while (log < max_log && (std::size_t{1} << log) < size + 262) ++log;
  return log;
}

}  // namespace hive::detail

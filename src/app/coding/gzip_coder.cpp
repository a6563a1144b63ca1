// gzip (RFC 1952) through zlib's deflate.
#include <zlib.h>

#include <algorithm>
#include <climits>

#include "app/coding/body_coder.hpp"

namespace hive::detail {

namespace {

class gzip_coder final : public body_coder {
 public:
  explicit gzip_coder(const coder_settings& s) {
    // 16 + window bits: a gzip header and trailer instead of zlib's. The hash table follows the
    // window (memLevel 8 for 32 KiB, as zlib's default; one less per halving, as nginx does).
    const int wbits = std::clamp(s.window_log, 9, 15);
    const int mem_level = std::clamp(wbits - 7, 1, 8);
    ok_ = deflateInit2(&z_, s.level, Z_DEFLATED, 16 + wbits, mem_level, Z_DEFAULT_STRATEGY) == Z_OK;
  }
  ~gzip_coder() override {
    if (ok_) deflateEnd(&z_);
  }
  gzip_coder(const gzip_coder&) = delete;
  gzip_coder& operator=(const gzip_coder&) = delete;

  bool ok() const { return ok_; }

  bool code(std::string_view in, bool last, std::string& out) override {
    if (!ok_) return false;
    // avail_in is 32 bits: a larger body goes in slices, flushed only after the last.
    do {
      const std::size_t slice = std::min<std::size_t>(in.size(), 1u << 30);
      const bool final_slice = slice == in.size();
      if (!run(in.substr(0, slice), final_slice ? (last ? Z_FINISH : Z_SYNC_FLUSH) : Z_NO_FLUSH, out)) {
        return fail();
      }
      in.remove_prefix(slice);
    } while (!in.empty());
    return true;
  }

 private:
  bool run(std::string_view in, int flush, std::string& out) {
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z_.avail_in = static_cast<uInt>(in.size());
    for (;;) {
      // deflateBound is for a whole stream; a flush adds its marker (5 bytes) and a gzip
      // trailer is 8: room for all of it, so one call usually does.
      const std::size_t room = std::min<std::size_t>(deflateBound(&z_, z_.avail_in) + 32, UINT_MAX);
      const std::size_t at = out.size();
      out.resize(at + room);
      z_.next_out = reinterpret_cast<Bytef*>(out.data() + at);
      z_.avail_out = static_cast<uInt>(room);
      const int r = deflate(&z_, flush);
      out.resize(at + room - z_.avail_out);
      if (r == Z_STREAM_ERROR) return false;
      if (r == Z_STREAM_END) return true;
      // Z_BUF_ERROR: no progress was possible (nothing left to flush) — done, not failed.
      if (z_.avail_out != 0 && z_.avail_in == 0 && flush != Z_FINISH) return true;
      if (r == Z_BUF_ERROR && z_.avail_in == 0 && flush != Z_FINISH) return true;
    }
  }
  bool fail() {
    deflateEnd(&z_);
    ok_ = false;
    return false;
  }

  z_stream z_{};
  bool ok_ = false;
};

}  // namespace

std::unique_ptr<body_coder> make_gzip_coder(const coder_settings& s) {
  auto c = std::make_unique<gzip_coder>(s);
  if (!c->ok()) return nullptr;
  return c;
}

}  // namespace hive::detail

// zstd (RFC 8878) through libzstd's streaming compressor.
#include <zstd.h>

#include <algorithm>

#include "app/coding/body_coder.hpp"

namespace hive::detail {

namespace {

class zstd_coder final : public body_coder {
 public:
  explicit zstd_coder(const coder_settings& s) : c_(ZSTD_createCCtx()) {
    if (c_ == nullptr) return;
    ZSTD_CCtx_setParameter(c_, ZSTD_c_compressionLevel, s.level);
    if (s.size != 0) {
      // A known size: zstd sizes its window and tables for it and records it in the frame.
      ZSTD_CCtx_setPledgedSrcSize(c_, s.size);
    } else {
      // A stream: its tables live as long as it does; keep them to the window asked for (the
      // level's own, for level 3, are 512 KiB of hash and 256 KiB of chain tables).
      const auto bounds = ZSTD_cParam_getBounds(ZSTD_c_windowLog);
      const int log = std::clamp(s.window_log, bounds.lowerBound, 27);
      ZSTD_CCtx_setParameter(c_, ZSTD_c_windowLog, log);
      ZSTD_CCtx_setParameter(c_, ZSTD_c_hashLog, log);
      ZSTD_CCtx_setParameter(c_, ZSTD_c_chainLog, log);
    }
  }
  ~zstd_coder() override { ZSTD_freeCCtx(c_); }
  zstd_coder(const zstd_coder&) = delete;
  zstd_coder& operator=(const zstd_coder&) = delete;

  bool ok() const { return c_ != nullptr; }

  bool code(std::string_view in, bool last, std::string& out) override {
    if (c_ == nullptr) return false;
    ZSTD_inBuffer src{in.data(), in.size(), 0};
    const ZSTD_EndDirective mode = last ? ZSTD_e_end : ZSTD_e_flush;
    for (;;) {
      const std::size_t room = ZSTD_compressBound(src.size - src.pos) + 64;
      const std::size_t at = out.size();
      out.resize(at + room);
      ZSTD_outBuffer dst{out.data() + at, room, 0};
      const std::size_t left = ZSTD_compressStream2(c_, &dst, &src, mode);
      out.resize(at + dst.pos);
      if (ZSTD_isError(left)) {
        ZSTD_freeCCtx(c_);
        c_ = nullptr;
        return false;
      }
      if (left == 0) return true;  // flushed (or the frame ended) and all input taken
    }
  }

 private:
  ZSTD_CCtx* c_;
};

}  // namespace

std::unique_ptr<body_coder> make_zstd_coder(const coder_settings& s) {
  auto c = std::make_unique<zstd_coder>(s);
  if (!c->ok()) return nullptr;
  return c;
}

}  // namespace hive::detail

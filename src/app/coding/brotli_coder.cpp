// br (RFC 7932) through libbrotli's streaming encoder.
#include <brotli/encode.h>

#include <algorithm>

#include "app/coding/body_coder.hpp"

namespace hive::detail {

namespace {

class brotli_coder final : public body_coder {
 public:
  explicit brotli_coder(const coder_settings& s) : s_(BrotliEncoderCreateInstance(nullptr, nullptr, nullptr)) {
    if (s_ == nullptr) return;
    BrotliEncoderSetParameter(s_, BROTLI_PARAM_QUALITY, static_cast<std::uint32_t>(s.level));
    BrotliEncoderSetParameter(s_, BROTLI_PARAM_LGWIN,
                              static_cast<std::uint32_t>(std::clamp(s.window_log, BROTLI_MIN_WINDOW_BITS,
                                                                    BROTLI_MAX_WINDOW_BITS)));
    if (s.size != 0) {
      BrotliEncoderSetParameter(s_, BROTLI_PARAM_SIZE_HINT,
                                static_cast<std::uint32_t>(std::min<std::size_t>(s.size, 1u << 30)));
    }
  }
  ~brotli_coder() override {
    if (s_ != nullptr) BrotliEncoderDestroyInstance(s_);
  }
  brotli_coder(const brotli_coder&) = delete;
  brotli_coder& operator=(const brotli_coder&) = delete;

  bool ok() const { return s_ != nullptr; }

  bool code(std::string_view in, bool last, std::string& out) override {
    if (s_ == nullptr) return false;
    const BrotliEncoderOperation op = last ? BROTLI_OPERATION_FINISH : BROTLI_OPERATION_FLUSH;
    std::size_t avail_in = in.size();
    const auto* next_in = reinterpret_cast<const std::uint8_t*>(in.data());
    for (;;) {
      const std::size_t room = BrotliEncoderMaxCompressedSize(avail_in) + 64;
      const std::size_t at = out.size();
      out.resize(at + room);
      std::size_t avail_out = room;
      auto* next_out = reinterpret_cast<std::uint8_t*>(out.data() + at);
      const bool ok = BrotliEncoderCompressStream(s_, op, &avail_in, &next_in, &avail_out, &next_out, nullptr);
      out.resize(at + room - avail_out);
      if (!ok) {
        BrotliEncoderDestroyInstance(s_);
        s_ = nullptr;
        return false;
      }
      if (avail_in == 0 && !BrotliEncoderHasMoreOutput(s_) && (!last || BrotliEncoderIsFinished(s_))) {
        return true;
      }
    }
  }

 private:
  BrotliEncoderState* s_;
};

}  // namespace

std::unique_ptr<body_coder> make_brotli_coder(const coder_settings& s) {
  auto c = std::make_unique<brotli_coder>(s);
  if (!c->ok()) return nullptr;
  return c;
}

}  // namespace hive::detail

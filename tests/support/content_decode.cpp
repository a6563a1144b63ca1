#include "support/content_decode.hpp"

#ifdef HIVE_HAVE_ZLIB
#include <zlib.h>
#endif
#ifdef HIVE_HAVE_BROTLI
#include <brotli/decode.h>
#endif
#ifdef HIVE_HAVE_ZSTD
#include <zstd.h>
#endif

#include <cstdint>

namespace hive::test {

namespace {

#ifdef HIVE_HAVE_ZLIB
std::optional<std::string> gunzip(std::string_view in, bool whole) {
  z_stream z{};
  if (inflateInit2(&z, 16 + 15) != Z_OK) return std::nullopt;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  std::string out;
  int r = Z_OK;
  char buf[16384];
  do {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    r = inflate(&z, Z_SYNC_FLUSH);
    out.append(buf, sizeof buf - z.avail_out);
  } while (r == Z_OK && (z.avail_in > 0 || z.avail_out == 0));
  const bool trailing = z.avail_in != 0;
  inflateEnd(&z);
  if (r == Z_STREAM_END && !trailing) return out;
  if (!whole && (r == Z_OK || r == Z_BUF_ERROR)) return out;
  return std::nullopt;
}
#endif

#ifdef HIVE_HAVE_BROTLI
std::optional<std::string> unbrotli(std::string_view in, bool whole) {
  BrotliDecoderState* s = BrotliDecoderCreateInstance(nullptr, nullptr, nullptr);
  std::size_t avail_in = in.size();
  const auto* next_in = reinterpret_cast<const std::uint8_t*>(in.data());
  std::string out;
  BrotliDecoderResult r;
  bool full = false;
  do {
    std::uint8_t buf[16384];
    std::size_t avail_out = sizeof buf;
    std::uint8_t* next_out = buf;
    r = BrotliDecoderDecompressStream(s, &avail_in, &next_in, &avail_out, &next_out, nullptr);
    out.append(reinterpret_cast<char*>(buf), sizeof buf - avail_out);
    full = avail_out == 0;  // there may be more, whatever it says
  } while (r == BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT || (full && r != BROTLI_DECODER_RESULT_ERROR) ||
           BrotliDecoderHasMoreOutput(s));
  BrotliDecoderDestroyInstance(s);
  if (r == BROTLI_DECODER_RESULT_SUCCESS && avail_in == 0) return out;
  if (!whole && r == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT) return out;
  return std::nullopt;
}
#endif

#ifdef HIVE_HAVE_ZSTD
std::optional<std::string> unzstd(std::string_view in, bool whole) {
  ZSTD_DCtx* d = ZSTD_createDCtx();
  ZSTD_inBuffer src{in.data(), in.size(), 0};
  std::string out;
  std::size_t r = 0;
  for (;;) {
    char buf[16384];
    ZSTD_outBuffer dst{buf, sizeof buf, 0};
    r = ZSTD_decompressStream(d, &dst, &src);
    out.append(buf, dst.pos);
    if (ZSTD_isError(r)) break;
    if (src.pos == src.size && dst.pos < dst.size) break;
  }
  ZSTD_freeDCtx(d);
  if (ZSTD_isError(r)) return std::nullopt;
  if (r == 0 || !whole) return out;  // 0: the frame is complete
  return std::nullopt;
}
#endif

}  // namespace

bool can_decode(std::string_view coding) {
#ifdef HIVE_HAVE_ZLIB
  if (coding == "gzip") return true;
#endif
#ifdef HIVE_HAVE_BROTLI
  if (coding == "br") return true;
#endif
#ifdef HIVE_HAVE_ZSTD
  if (coding == "zstd") return true;
#endif
  return false;
}

std::optional<std::string> decode(std::string_view coding, std::string_view bytes, bool whole) {
#ifdef HIVE_HAVE_ZLIB
  if (coding == "gzip") return gunzip(bytes, whole);
#endif
#ifdef HIVE_HAVE_BROTLI
  if (coding == "br") return unbrotli(bytes, whole);
#endif
#ifdef HIVE_HAVE_ZSTD
  if (coding == "zstd") return unzstd(bytes, whole);
#endif
  (void)bytes;
  (void)whole;
  return std::nullopt;
}

}  // namespace hive::test

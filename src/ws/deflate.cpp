#include "ws/deflate.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

namespace hive::detail {

namespace {

// Every message's compressed form ends with an empty stored block (a sync flush), whose four
// bytes the sender removes and the receiver puts back (§7.2.1, §7.2.2).
constexpr unsigned char deflate_tail[4] = {0x00, 0x00, 0xFF, 0xFF};
// zlib's default: a 128 KiB hash for a 32 KiB window.
constexpr int deflate_mem_level = 8;

}  // namespace

ws_deflater::ws_deflater(int window_bits)
    : z_(std::make_unique<z_stream_s>()), window_bits_(std::clamp(window_bits, 9, 15)) {
  std::memset(z_.get(), 0, sizeof(z_stream_s));
  // Raw deflate (negative window bits): no zlib header, as §7.2.1 wants.
  ok_ = deflateInit2(z_.get(), Z_DEFAULT_COMPRESSION, Z_DEFLATED, -window_bits_,
                     deflate_mem_level, Z_DEFAULT_STRATEGY) == Z_OK;
}

ws_deflater::~ws_deflater() {
  if (ok_) deflateEnd(z_.get());
}

bool ws_deflater::compress(std::string_view in, std::string& out, bool reset) {
  if (!ok_) return false;
  const std::size_t start = out.size();
  try {
    return compress_into(in, out, start, reset);
  } catch (...) {
    // A shared stream left mid-message would put this message's bytes into the next
    // connection's: forget it whatever happened (std::bad_alloc from the resize).
    deflateReset(z_.get());
    out.resize(start);
    throw;
  }
}

bool ws_deflater::compress_into(std::string_view in, std::string& out, std::size_t start, bool reset) {
  z_stream_s& z = *z_;
  std::size_t used = start;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  for (;;) {
    // Usually one pass: the bound plus room for the flush's empty block.
    const std::size_t room = deflateBound(&z, static_cast<uLong>(z.avail_in)) + 16;
    out.resize(used + room);
    z.next_out = reinterpret_cast<Bytef*>(out.data() + used);
    z.avail_out = static_cast<uInt>(room);
    const int rc = deflate(&z, Z_SYNC_FLUSH);
    used += room - z.avail_out;
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      out.resize(start);
      deflateReset(&z);
      return false;
    }
    if (z.avail_out != 0 && z.avail_in == 0) break;
  }
  if (used - start >= 4 && std::memcmp(out.data() + used - 4, deflate_tail, 4) == 0) used -= 4;
  out.resize(used);
  // Nothing came out (an empty message after an earlier flush: zlib has nothing to flush again).
  // An empty payload would leave the receiver half a stored block once it adds the tail: send the
  // single 0x00 byte of §7.2.3.6 instead.
  if (used == start) out.push_back('\0');
  if (reset) deflateReset(&z);
  return true;
}

ws_inflater::ws_inflater(int window_bits)
    : z_(std::make_unique<z_stream_s>()), window_bits_(std::clamp(window_bits, 9, 15)) {
  std::memset(z_.get(), 0, sizeof(z_stream_s));
  ok_ = inflateInit2(z_.get(), -window_bits_) == Z_OK;
}

// zlib's zconf.h: inflate needs (1 << windowBits) plus about 7 KiB of state; deflate
// (1 << (windowBits + 2)) + (1 << (memLevel + 9)) plus about 6 KiB.
std::size_t ws_inflater::memory() const { return ok_ ? (std::size_t{1} << window_bits_) + 7 * 1024 : 0; }

std::size_t ws_deflater::memory() const {
  return ok_ ? (std::size_t{1} << (window_bits_ + 2)) + (std::size_t{1} << (deflate_mem_level + 9)) + 6 * 1024 : 0;
}

ws_inflater::~ws_inflater() {
  if (ok_) inflateEnd(z_.get());
}

inflate_result ws_inflater::inflate_message(std::string_view in, std::string& out, std::size_t limit, bool reset) {
  out.clear();
  if (!ok_) return inflate_result::bad;
  // An empty payload is an empty message (a compliant sender sends 0x00; the tail alone would be
  // half a stored block and leave the stream stuck for the next message).
  if (in.empty()) return inflate_result::ok;
  ended_ = false;
  inflate_result r;
  try {
    r = run(reinterpret_cast<const unsigned char*>(in.data()), in.size(), out, limit);
    if (r == inflate_result::ok && !ended_) r = run(deflate_tail, sizeof deflate_tail, out, limit);
  } catch (...) {
    inflateReset(z_.get());  // a shared stream must not be left mid-message
    throw;
  }
  if (reset || r != inflate_result::ok) inflateReset(z_.get());
  return r;
}

inflate_result ws_inflater::run(const unsigned char* in, std::size_t n, std::string& out, std::size_t limit) {
  z_stream_s& z = *z_;
  z.next_in = const_cast<Bytef*>(in);
  z.avail_in = static_cast<uInt>(n);
  for (;;) {
    // Room for one byte past the limit: that byte is the proof that the message is too big.
    // (Pieces of at most 1 GiB: zlib counts in 32 bits, and a limit may be SIZE_MAX.)
    const std::size_t left = limit - out.size();
    const std::size_t room = std::min({std::max<std::size_t>(4 * std::size_t{z.avail_in}, 4096),
                                       left == SIZE_MAX ? left : left + 1, std::size_t{1} << 30});
    const std::size_t used = out.size();
    out.resize(used + room);
    z.next_out = reinterpret_cast<Bytef*>(out.data() + used);
    z.avail_out = static_cast<uInt>(room);
    const int rc = inflate(&z, Z_SYNC_FLUSH);
    out.resize(used + room - z.avail_out);
    if (out.size() > limit) return inflate_result::too_big;
    switch (rc) {
      case Z_OK:
      case Z_BUF_ERROR:
        break;
      case Z_STREAM_END:
        // A final block (BFINAL): the stream is over; only the tail we add may follow it.
        if (z.avail_in != 0) return inflate_result::bad;
        inflateReset(&z);
        ended_ = true;
        return inflate_result::ok;
      default:
        return inflate_result::bad;
    }
    if (z.avail_in == 0 && z.avail_out != 0) return inflate_result::ok;
    if (rc == Z_BUF_ERROR && z.avail_out != 0) return inflate_result::bad;  // no progress
  }
}

ws_deflater& shared_deflater(int window_bits) {
  thread_local std::array<std::unique_ptr<ws_deflater>, 7> by_bits;
  const int bits = std::clamp(window_bits, 9, 15);
  auto& d = by_bits[static_cast<std::size_t>(bits - 9)];
  if (!d) d = std::make_unique<ws_deflater>(bits);
  return *d;
}

ws_inflater& shared_inflater() {
  // 15 bits inflate what any smaller window made.
  thread_local ws_inflater i(15);
  return i;
}

}  // namespace hive::detail

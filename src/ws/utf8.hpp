// An incremental UTF-8 validator (RFC 3629): fed a text message in pieces of any size, it fails at
// the first byte that cannot belong to valid UTF-8 — RFC 6455 §8.1 wants a bad text frame failed
// fast, not after the whole message arrived — and says at the end whether a sequence is cut short.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace hive::detail {

class utf8_validator {
 public:
  // False at the first invalid byte (the validator is then spent: reset() it).
  bool feed(const char* data, std::size_t n) {
    const auto* p = reinterpret_cast<const unsigned char*>(data);
    const auto* end = p + n;
    while (p != end) {
      if (need_ == 0) {
        // ASCII runs, eight bytes at a time: most text is ASCII.
        while (end - p >= 8) {
          std::uint64_t w;
          std::memcpy(&w, p, 8);
          if ((w & 0x8080808080808080ULL) != 0) break;
          p += 8;
        }
        if (p == end) break;
        if (!lead(*p++)) return false;
      } else {
        const unsigned char b = *p++;
        if (b < lo_ || b > hi_) return false;
        --need_;
        lo_ = 0x80;
        hi_ = 0xBF;
      }
    }
    return true;
  }
  // No sequence is left open.
  bool complete() const { return need_ == 0; }
  void reset() {
    need_ = 0;
    lo_ = 0x80;
    hi_ = 0xBF;
  }

 private:
  // The first byte of a sequence: how many follow, and the range of the next one (which rules
  // out overlong forms, surrogates and code points past U+10FFFF).
  bool lead(unsigned char b) {
    if (b < 0x80) return true;
    lo_ = 0x80;
    hi_ = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
      need_ = 1;
    } else if (b == 0xE0) {
      need_ = 2;
      lo_ = 0xA0;
    } else if (b == 0xED) {
      need_ = 2;
      hi_ = 0x9F;
    } else if (b >= 0xE1 && b <= 0xEF) {
      need_ = 2;
    } else if (b == 0xF0) {
      need_ = 3;
      lo_ = 0x90;
    } else if (b >= 0xF1 && b <= 0xF3) {
      need_ = 3;
    } else if (b == 0xF4) {
      need_ = 3;
      hi_ = 0x8F;
    } else {
      return false;  // a stray continuation byte, C0, C1, F5..FF
    }
    return true;
  }

  std::uint8_t need_ = 0;
  unsigned char lo_ = 0x80, hi_ = 0xBF;
};

// A whole string.
inline bool valid_utf8(const char* data, std::size_t n) {
  utf8_validator v;
  return v.feed(data, n) && v.complete();
}

}  // namespace hive::detail

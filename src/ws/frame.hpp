// RFC 6455 §5.2 framing: the opcodes, what a frame head says, and the server's frame heads
// (unmasked: only clients mask).
#pragma once

#include <cstddef>
#include <cstdint>

namespace hive::detail {

enum class ws_op : std::uint8_t {
  continuation = 0x0,
  text = 0x1,
  binary = 0x2,
  close = 0x8,
  ping = 0x9,
  pong = 0xA,
};

inline bool is_control(ws_op op) { return (static_cast<std::uint8_t>(op) & 0x8) != 0; }

struct frame_header {
  ws_op op = ws_op::continuation;
  bool fin = false;
  std::uint8_t rsv = 0;        // RSV1..3 as bits 0x40, 0x20, 0x10
  std::uint64_t length = 0;    // payload bytes
};

// The size of a server frame head for a payload of `length` bytes: 2, 4 or 10.
inline std::size_t frame_head_size(std::uint64_t length) {
  return length < 126 ? 2 : length <= 0xFFFF ? 4 : 10;
}

// Writes an unmasked frame head (frame_head_size(length) bytes); returns the end. `rsv1`: the
// payload is compressed (permessage-deflate).
inline char* write_frame_head(char* p, ws_op op, std::uint64_t length, bool fin = true, bool rsv1 = false) {
  *p++ = static_cast<char>((fin ? 0x80 : 0x00) | (rsv1 ? 0x40 : 0x00) | static_cast<std::uint8_t>(op));
  if (length < 126) {
    *p++ = static_cast<char>(length);
  } else if (length <= 0xFFFF) {
    *p++ = 126;
    *p++ = static_cast<char>(length >> 8);
    *p++ = static_cast<char>(length);
  } else {
    *p++ = 127;
    for (int shift = 56; shift >= 0; shift -= 8) *p++ = static_cast<char>(length >> shift);
  }
  return p;
}

// Close codes a peer may send (RFC 6455 §7.4.1 and the IANA registry): 1005, 1006 and 1015 are
// for reporting only and never appear on the wire; 1016..2999 are unassigned; 3000..4999 belong
// to libraries and applications.
inline bool valid_close_code(std::uint32_t code) {
  if (code >= 3000 && code <= 4999) return true;
  switch (code) {
    case 1000: case 1001: case 1002: case 1003: case 1007: case 1008: case 1009: case 1010:
    case 1011: case 1012: case 1013: case 1014:
      return true;
    default:
      return false;
  }
}

}  // namespace hive::detail

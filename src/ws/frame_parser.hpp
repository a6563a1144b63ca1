// A streaming parser of client frames (RFC 6455 §5.2): fed bytes in pieces of any size, it
// reports each frame's head, its payload unmasked in place, and its end, to a handler:
//
//   bool on_frame(const frame_header&);      // the head is complete and valid
//   bool on_payload(char* data, size_t n);   // payload bytes, unmasked (possibly n == 0 never)
//   bool on_frame_end();                     // the payload is complete
//
// A handler returning false stops the parser for good (a close frame, a bad message). The parser
// checks what framing alone can tell — masking, reserved bits, opcodes, control frame rules,
// continuation order, the 64-bit length's top bit, the frame size limit — and stops at the first
// violation with error() saying which; message-level rules (UTF-8, the message size) are the
// handler's. Sans-I/O, so that the fuzz target drives it without a socket.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "ws/frame.hpp"

namespace hive::detail {

enum class frame_error : std::uint8_t {
  none,
  unmasked,                // a client frame without a mask (§5.1)
  reserved_bits,           // RSV bits no negotiated extension defines
  unknown_opcode,          // 0x3..0x7, 0xB..0xF
  control_too_long,        // a control frame with more than 125 bytes of payload
  control_fragmented,      // a control frame without FIN
  length_msb,              // a 64-bit length with the most significant bit set
  unexpected_continuation, // a continuation frame with no fragmented message in progress
  expected_continuation,   // a new data frame while a fragmented message is in progress
  frame_too_big,           // a frame over the frame size limit
};

// The close code that answers `e` (§7.4.1): 1009 for a size limit, 1002 for the rest.
inline std::uint16_t close_code_for(frame_error e) { return e == frame_error::frame_too_big ? 1009 : 1002; }

class frame_parser {
 public:
  explicit frame_parser(std::uint64_t max_frame_bytes, std::uint8_t allowed_rsv = 0)
      : max_frame_(max_frame_bytes), allowed_rsv_(allowed_rsv) {}

  // Parses what it can of `data` (modified: payload is unmasked in place). Returns the bytes
  // consumed: all of them, unless the parser stopped (error(), or a handler said stop).
  template <class Handler>
  std::size_t feed(char* data, std::size_t n, Handler& h);

  // RSV bits a negotiated extension defines (permessage-deflate: 0x40), before the first frame.
  void allow_rsv(std::uint8_t bits) { allowed_rsv_ = bits; }
  bool stopped() const { return state_ == state::stopped; }
  frame_error error() const { return error_; }
  // A fragmented data message is in progress (its first frame seen, its last not yet).
  bool in_message() const { return in_message_; }
  // The frame being parsed (from on_frame through on_frame_end).
  const frame_header& frame() const { return frame_; }

 private:
  enum class state : std::uint8_t {
    head,     // the first two bytes
    rest,     // extended length and masking key
    payload,
    stopped,  // an error, or a handler said stop: nothing more is parsed
  };

  bool check_start();  // after two bytes: opcode, RSV, FIN and length rules
  bool check_rest();   // after the whole head: the length
  void unmask(char* p, std::size_t n);
  std::size_t fail(frame_error e, std::size_t consumed) {
    error_ = e;
    state_ = state::stopped;
    return consumed;
  }

  std::uint64_t max_frame_;
  std::uint8_t allowed_rsv_;
  state state_ = state::head;
  frame_error error_ = frame_error::none;
  bool in_message_ = false;
  unsigned char head_[14] = {};  // the frame's head; its masking key is the last four bytes
  std::uint8_t got_ = 0;   // head bytes so far
  std::uint8_t need_ = 2;  // head bytes in all
  std::uint8_t mask_pos_ = 0;
  frame_header frame_;
  std::uint64_t remaining_ = 0;
};

template <class Handler>
std::size_t frame_parser::feed(char* data, std::size_t n, Handler& h) {
  std::size_t i = 0;
  while (i < n || (state_ == state::payload && remaining_ == 0)) {
    switch (state_) {
      case state::stopped:
        return i;
      case state::head:
        head_[got_++] = static_cast<unsigned char>(data[i++]);
        if (got_ < 2) break;
        if (!check_start()) return fail(error_, i);
        if (got_ == need_ && !check_rest()) return fail(error_, i);
        if (state_ == state::payload && !h.on_frame(frame_)) return fail(frame_error::none, i);
        break;
      case state::rest: {
        const std::size_t take = std::min<std::size_t>(need_ - got_, n - i);
        std::memcpy(head_ + got_, data + i, take);
        got_ = static_cast<std::uint8_t>(got_ + take);
        i += take;
        if (got_ < need_) break;
        if (!check_rest()) return fail(error_, i);
        if (!h.on_frame(frame_)) return fail(frame_error::none, i);
        break;
      }
      case state::payload: {
        if (remaining_ > 0) {
          const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, n - i));
          unmask(data + i, take);
          i += take;
          remaining_ -= take;
          if (!h.on_payload(data + i - take, take)) return fail(frame_error::none, i);
          if (remaining_ > 0) break;
        }
        state_ = state::head;
        got_ = 0;
        need_ = 2;
        if (!h.on_frame_end()) return fail(frame_error::none, i);
        break;
      }
    }
  }
  return i;
}

}  // namespace hive::detail

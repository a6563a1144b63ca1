#include "ws/frame_parser.hpp"

namespace hive::detail {

bool frame_parser::check_start() {
  const unsigned char b0 = head_[0], b1 = head_[1];
  frame_.fin = (b0 & 0x80) != 0;
  frame_.rsv = b0 & 0x70;
  frame_.op = static_cast<ws_op>(b0 & 0x0F);
  const unsigned len7 = b1 & 0x7F;
  switch (frame_.op) {
    case ws_op::continuation:
      if (!in_message_) return error_ = frame_error::unexpected_continuation, false;
      break;
    case ws_op::text:
    case ws_op::binary:
      if (in_message_) return error_ = frame_error::expected_continuation, false;
      break;
    case ws_op::close:
    case ws_op::ping:
    case ws_op::pong:
      // Control frames may come between the fragments of a message, never fragmented themselves.
      if (!frame_.fin) return error_ = frame_error::control_fragmented, false;
      if (len7 > 125) return error_ = frame_error::control_too_long, false;
      break;
    default:
      return error_ = frame_error::unknown_opcode, false;
  }
  // An extension's bit (permessage-deflate's RSV1) marks a whole message: it may stand on the
  // first frame of a data message only, never on a continuation or a control frame (RFC 7692 §6.1).
  const bool starts_message = frame_.op == ws_op::text || frame_.op == ws_op::binary;
  if ((frame_.rsv & ~(starts_message ? allowed_rsv_ : 0)) != 0) return error_ = frame_error::reserved_bits, false;
  if ((b1 & 0x80) == 0) return error_ = frame_error::unmasked, false;
  need_ = static_cast<std::uint8_t>(2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4);
  state_ = state::rest;
  return true;
}

bool frame_parser::check_rest() {
  const unsigned len7 = head_[1] & 0x7F;
  std::uint64_t len = len7;
  if (len7 == 126) {
    len = (std::uint64_t{head_[2]} << 8) | head_[3];
  } else if (len7 == 127) {
    if ((head_[2] & 0x80) != 0) return error_ = frame_error::length_msb, false;
    len = 0;
    for (int k = 0; k < 8; ++k) len = (len << 8) | head_[2 + k];
  }
  if (len > max_frame_) return error_ = frame_error::frame_too_big, false;
  mask_pos_ = 0;  // the masking key: the head's last four bytes
  frame_.length = len;
  remaining_ = len;
  if (!is_control(frame_.op)) in_message_ = !frame_.fin;
  state_ = state::payload;
  return true;
}

void frame_parser::unmask(char* p, std::size_t n) {
  // The key rotated to where this piece starts, eight bytes wide (a multiple of its period).
  unsigned char m8[8];
  const unsigned char* key = head_ + need_ - 4;
  for (int j = 0; j < 8; ++j) m8[j] = key[(mask_pos_ + j) & 3];
  std::uint64_t w8;
  std::memcpy(&w8, m8, 8);
  std::size_t k = 0;
  for (; k + 8 <= n; k += 8) {
    std::uint64_t w;
    std::memcpy(&w, p + k, 8);
    w ^= w8;
    std::memcpy(p + k, &w, 8);
  }
  for (; k < n; ++k) p[k] = static_cast<char>(p[k] ^ m8[k & 7]);
  mask_pos_ = static_cast<std::uint8_t>((mask_pos_ + n) & 3);
}

}  // namespace hive::detail

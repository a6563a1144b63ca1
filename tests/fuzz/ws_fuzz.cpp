// libFuzzer target over the WebSocket protocol after `101`: the frame parser, the UTF-8 validator,
// message assembly and the close handshake, driven through the protocol interface with
// arbitrary client bytes in arbitrary splits, against an echo route with small limits.
//
// Input layout: byte 0 = split count (low 3 bits) | 0x08 EOF at the end | 0x10 timeout at the
// end | 0x20 permessage-deflate negotiated | 0x40 ... without context takeover (both sides);
// then 2 bytes per split point; the rest is what the client sends.
//
// With deflate the route inflates client messages (RSV1) under the message limit and compresses
// its echoes: each compressed server frame must inflate (with the context the negotiation says)
// and a compressed text must be UTF-8 once inflated.
//
// Invariants on what the server writes: well-formed server frames (FIN set, RSV1 only when
// deflate was negotiated and only on data frames, no RSV2/3, unmasked,
// known opcodes, control payloads ≤ 125); text frames valid UTF-8; a close frame carries no
// code or a sendable one (never 1005/1006/1015), and nothing follows it; after a close the
// protocol asks to close, not to read.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <hive/hive.hpp>
#include <zlib.h>

#include "ws/frame.hpp"
#include "ws/utf8.hpp"
#include "ws/ws_session.hpp"

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

// The client's inflater for the server's compressed frames.
struct client_inflater {
  z_stream z{};
  bool reset_each = false;
  explicit client_inflater(bool reset) : reset_each(reset) { inflateInit2(&z, -15); }
  ~client_inflater() { inflateEnd(&z); }
  // False when the payload is not deflate; `out` gets at most 64 KiB (the echo limit is smaller).
  bool inflate_message(std::string in, std::string& out) {
    in.append("\0\0\xff\xff", 4);
    out.assign(64 * 1024, '\0');
    z.next_in = reinterpret_cast<Bytef*>(in.data());
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    const int rc = inflate(&z, Z_SYNC_FLUSH);
    out.resize(out.size() - z.avail_out);
    if (reset_each) inflateReset(&z);
    return (rc == Z_OK || rc == Z_BUF_ERROR) && z.avail_in == 0;
  }
};

std::shared_ptr<const hive::detail::ws_route> fuzz_route() {
  hive::ws_behaviour<hive::ws_no_data> b;
  b.settings.deflate = true;
  b.settings.deflate_min_bytes = 4;
  b.settings.max_message_bytes = 300;
  b.settings.max_frame_bytes = 200;
  b.settings.max_backpressure_bytes = 256;
  b.settings.max_buffered_bytes = 4096;
  b.message = [](hive::websocket<hive::ws_no_data>& ws, std::string_view m, hive::ws_opcode op) {
    if (m == "close") {
      ws.close(4000, "bye");
      return;
    }
    ws.send(m, op);
  };
  return hive::detail::make_ws_route(std::move(b));
}

// Checks the server's frames in `out` (whole frames: the session writes whole ones).
void check_output(const std::string& out, bool& closed, client_inflater* z) {
  std::size_t i = 0;
  while (i < out.size()) {
    require(!closed);  // nothing after a close frame
    require(out.size() - i >= 2);
    const auto b0 = static_cast<unsigned char>(out[i]), b1 = static_cast<unsigned char>(out[i + 1]);
    const int op = b0 & 0x0F;
    const bool rsv1 = (b0 & 0x40) != 0;
    require((b0 & 0x80) != 0 && (b0 & 0x30) == 0 && (b1 & 0x80) == 0);
    require(!rsv1 || (z != nullptr && (op == 1 || op == 2)));
    require(op == 1 || op == 2 || op == 8 || op == 9 || op == 10);
    std::uint64_t len = b1 & 0x7F;
    std::size_t at = i + 2;
    if (len == 126) {
      require(out.size() - i >= 4);
      len = (std::uint64_t{static_cast<unsigned char>(out[i + 2])} << 8) | static_cast<unsigned char>(out[i + 3]);
      at = i + 4;
    } else if (len == 127) {
      require(out.size() - i >= 10);
      len = 0;
      for (int k = 0; k < 8; ++k) len = (len << 8) | static_cast<unsigned char>(out[i + 2 + k]);
      at = i + 10;
    }
    require(out.size() - at >= len);
    const std::string_view payload(out.data() + at, len);
    if (op >= 8) require(len <= 125);
    if (rsv1) {
      std::string plain;
      require(z->inflate_message(std::string(payload), plain));
      if (op == 1) require(hive::detail::valid_utf8(plain.data(), plain.size()));
    } else if (op == 1) {
      require(hive::detail::valid_utf8(payload.data(), payload.size()));
    }
    if (op == 8) {
      closed = true;
      require(len == 0 || len >= 2);
      if (len >= 2) {
        const unsigned code = (static_cast<unsigned char>(payload[0]) << 8) | static_cast<unsigned char>(payload[1]);
        require(hive::detail::valid_close_code(code));
        require(hive::detail::valid_utf8(payload.data() + 2, payload.size() - 2));
      }
    }
    i = at + len;
  }
}

void drain_output(hive::detail::ws_session& s, bool& closed, client_inflater* z) {
  while (auto* q = s.output()) {
    iovec iov[16];
    hive::detail::output_queue::file_range file;
    const int n = q->next(iov, 16, file);
    require(n > 0);
    std::string out;
    for (int k = 0; k < n; ++k) out.append(static_cast<const char*>(iov[k].iov_base), iov[k].iov_len);
    check_output(out, closed, z);
    s.consume(out.size());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  static const auto route = fuzz_route();
  static const hive::address peer{};
  const std::uint8_t flags = data[0];
  std::size_t splits_n = flags & 0x07;
  std::size_t at = 1;
  std::vector<std::size_t> splits;
  for (std::size_t k = 0; k < splits_n && at + 2 <= size; ++k, at += 2) {
    splits.push_back((std::size_t{data[at]} << 8) | data[at + 1]);
  }
  const std::string_view in(reinterpret_cast<const char*>(data) + std::min(at, size), size - std::min(at, size));

  const bool deflate = (flags & 0x20) != 0;
  hive::detail::deflate_params params;
  params.server_no_context_takeover = params.client_no_context_takeover = (flags & 0x40) != 0;
  client_inflater inflater(params.server_no_context_takeover);
  client_inflater* z = deflate ? &inflater : nullptr;
  const auto session = hive::detail::ws_session::create(*route, &peer);
  session->agreed("", deflate ? &params : nullptr);
  hive::detail::ws_session& s = *session;
  bool closed = false;
  std::size_t pos = 0;
  auto feed = [&](std::size_t upto) {
    while (pos < upto && s.step() == hive::detail::protocol::next::read) {
      auto buf = s.prepare();
      const std::size_t n = std::min(buf.size(), upto - pos);
      std::memcpy(buf.data(), in.data() + pos, n);
      pos += n;
      s.commit(n);
      drain_output(s, closed, z);
    }
  };
  for (std::size_t sp : splits) feed(std::min(in.size(), std::max(pos, sp % (in.size() + 1))));
  feed(in.size());
  if ((flags & 0x10) != 0) {
    s.timeout();
    drain_output(s, closed, z);
  }
  if ((flags & 0x08) != 0) s.on_eof();
  if (closed) require(s.step() == hive::detail::protocol::next::close || s.step() == hive::detail::protocol::next::read);
  s.peer_gone();
  return 0;
}

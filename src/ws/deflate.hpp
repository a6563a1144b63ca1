// permessage-deflate (RFC 7692): what a handshake negotiated, and the zlib streams that compress
// outgoing messages and inflate incoming ones.
//
// A side that keeps its context (the default) needs a zlib stream of its own for the life of the
// connection (about 32 KiB to inflate, up to 256 KiB to deflate at 15 window bits); a side
// without context takeover compresses each message alone, so one stream per worker thread,
// reset after every message, serves all such connections — and a published message is then
// compressed once for every such subscriber.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

struct z_stream_s;

namespace hive {
struct ws_settings;
class request;
}  // namespace hive

namespace hive::detail {

// What the handshake agreed (the answer's Sec-WebSocket-Extensions says the same).
struct deflate_params {
  bool server_no_context_takeover = false;
  bool client_no_context_takeover = false;
  std::uint8_t server_window_bits = 15;  // what we compress with (9..15)
  std::uint8_t client_window_bits = 15;  // what the client compresses with (8..15)
};

// Picks the first acceptable permessage-deflate offer of the request's Sec-WebSocket-Extensions
// (an offer with an unknown, repeated or out-of-range parameter is declined, §7). True when one
// was accepted: `p` and `answer` (the response header's value) are set.
bool negotiate_deflate(const request& req, const ws_settings& s, deflate_params& p, std::string& answer);

// One zlib deflate stream producing permessage-deflate payloads (raw deflate, each message
// ended with a sync flush whose 00 00 FF FF tail is removed, §7.2.1).
class ws_deflater {
 public:
  explicit ws_deflater(int window_bits);
  ~ws_deflater();
  ws_deflater(const ws_deflater&) = delete;
  ws_deflater& operator=(const ws_deflater&) = delete;

  // Appends `in`'s compressed payload to `out`. `reset`: forget the context afterwards (no
  // context takeover). False only if zlib failed (out of memory).
  bool compress(std::string_view in, std::string& out, bool reset);
  // What zlib holds for it (its documented formula: window, hash chains, state): what the
  // connection reports against the worker's output budget.
  std::size_t memory() const;

 private:
  bool compress_into(std::string_view in, std::string& out, std::size_t start, bool reset);

  std::unique_ptr<z_stream_s> z_;
  int window_bits_;
  bool ok_ = false;
};

enum class inflate_result : std::uint8_t { ok, too_big, bad };

// One zlib inflate stream for permessage-deflate payloads.
class ws_inflater {
 public:
  explicit ws_inflater(int window_bits);
  ~ws_inflater();
  ws_inflater(const ws_inflater&) = delete;
  ws_inflater& operator=(const ws_inflater&) = delete;

  // Inflates one whole message's payload into `out` (replaced). too_big as soon as the output
  // would pass `limit` bytes — a zip bomb costs at most `limit` bytes of memory — bad for data
  // that is not deflate. `reset`: forget the context afterwards.
  inflate_result inflate_message(std::string_view in, std::string& out, std::size_t limit, bool reset);
  // What zlib holds for it (window and state): reported against the worker's input budget.
  std::size_t memory() const;

 private:
  inflate_result run(const unsigned char* in, std::size_t n, std::string& out, std::size_t limit);

  std::unique_ptr<z_stream_s> z_;
  int window_bits_;
  bool ok_ = false;
  bool ended_ = false;  // the message ended with a final block (BFINAL): no tail to add
};

// The worker thread's shared streams, for sides without context takeover.
ws_deflater& shared_deflater(int window_bits);
ws_inflater& shared_inflater();

}  // namespace hive::detail

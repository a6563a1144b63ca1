// A WebSocket connection after `101` (RFC 6455): the protocol the connection runs once the HTTP
// session hands it over. Frames are parsed as they arrive (payload unmasked in place in the
// worker's shared read buffer, so an idle connection holds no input memory), messages go to the
// route's callbacks, and what the application sends waits in an output queue bounded by the
// route's limits.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "hive/websocket.hpp"
#include "net/output_queue.hpp"
#include "net/protocol.hpp"
#include "ws/deflate.hpp"
#include "ws/frame_parser.hpp"
#include "ws/utf8.hpp"

namespace hive::detail {

// A message published to many connections: each frame it needs is built once, on first need —
// plain, and compressed without context (by window bits 9..15) for subscribers that negotiated
// permessage-deflate without server context takeover.
struct ws_published {
  std::string_view message;
  ws_opcode op;
  std::shared_ptr<const std::string> plain;
  std::shared_ptr<const std::string> deflated[7];
};

class ws_session final : public protocol {
 public:
  // One allocation holds the session and, behind it, the route's handle (websocket<U> with the
  // user data): an idle WebSocket is one malloc chunk beside its connection. `route` must outlive
  // the session (routes live as long as the app).
  static std::unique_ptr<ws_session> create(const ws_route& route, const address* peer);
  static void operator delete(void* p) { ::operator delete(p); }
  ~ws_session() override;
  ws_session(const ws_session&) = delete;
  ws_session& operator=(const ws_session&) = delete;

  // The handle the upgrade step fills (before `101`).
  websocket_base& handle() { return *handle_; }
  // What the handshake agreed, before the first frame: the subprotocol ("" for none) and
  // permessage-deflate (null: not in use).
  void agreed(std::string protocol_name, const deflate_params* deflate);

  // protocol
  std::span<char> prepare() override;
  void commit(std::size_t n) override;
  void on_eof() override;
  void peer_gone() override;
  output_queue* output() override;
  void consume(std::size_t n) override;
  next step() const override;
  timer read_timer() const override;
  std::chrono::milliseconds custom_timeout() const override;
  std::uint64_t progress() const override { return progress_; }
  void timeout() override;
  void drain() override;
  void release_if_idle() override;
  held_bytes held() const override;

  // websocket_base's calls.
  ws_send send(std::string_view message, ws_opcode op);
  // A message published to many connections (frames built once for all).
  ws_send send_published(ws_published& p);
  void close(std::uint16_t code, std::string_view reason);
  bool subscribe(std::string_view topic);
  bool unsubscribe(std::string_view topic);
  bool subscribed(std::string_view topic) const;
  std::size_t buffered_bytes() const { return out_ ? out_->bytes() : 0; }
  std::string_view protocol_name() const { return rare_ ? std::string_view(rare_->protocol_name) : std::string_view(); }
  const address& remote() const { return *peer_; }

  // The frame parser's handler.
  bool on_frame(const frame_header& h);
  bool on_payload(char* data, std::size_t n);
  bool on_frame_end();

 private:
  ws_session(const ws_route& route, const address* peer, void* handle_at);

  enum class state : std::uint8_t {
    open,     // messages both ways
    closing,  // our close frame is queued: waiting for the client's (close_timeout)
    closed,   // done: close the TCP connection once the output is written
    gone,     // the connection is closed; the close callback ran
  };

  void ensure_open();
  bool handle_control();
  void deliver(std::string_view message);
  // Sends a close frame with `code` (0: an empty one) and stops reading frames.
  void queue_close(std::uint16_t code, std::string_view reason);
  void fail(std::uint16_t code, std::string_view reason = {});
  bool admit(std::size_t bytes);  // room for `bytes` more? Closes a slow consumer if not.
  ws_send after_send();
  void control_frame(ws_op op, std::string_view payload);
  void user_failed(const char* what);
  ws_send send_payload(std::string_view payload, ws_op op, bool compressed);
  ws_send send_frame(const std::shared_ptr<const std::string>& frame);
  bool inflate_and_deliver(std::string_view payload);
  void poke() {
    if (!busy_) wake();
  }

  // permessage-deflate: what was agreed, and this connection's own zlib streams (made at first
  // use, only for a side that keeps its context).
  struct deflate_state {
    deflate_params params;
    std::unique_ptr<ws_deflater> out;
    std::unique_ptr<ws_inflater> in;
  };

  // What few connections need, kept out of line: an idle WebSocket should cost little more than
  // an idle HTTP connection.
  struct rare_state {
    std::unique_ptr<deflate_state> deflate;  // null: no permessage-deflate
    std::string protocol_name;
    std::string close_reason;
    std::vector<std::string> topics;
    std::string control;  // a control frame's payload (≤ 125 bytes)
  };
  rare_state& rare();
  output_queue& out();      // made for the first byte to send, dropped once all is written
  std::string& message();   // made for the first message that spans frames or reads
  void set_reason(std::string_view reason);
  std::string_view close_reason() const { return rare_ ? std::string_view(rare_->close_reason) : std::string_view(); }
  const frame_header& frame() const { return parser_.frame(); }
  deflate_state* deflate() const { return rare_ ? rare_->deflate.get() : nullptr; }

  const ws_route* route_;
  websocket_base* handle_;  // in this allocation, behind the session (see create)
  std::unique_ptr<rare_state> rare_;
  const address* peer_;
  frame_parser parser_;
  utf8_validator utf8_;
  std::unique_ptr<output_queue> out_;
  std::unique_ptr<std::string> message_;  // a message arriving in several frames or reads
  std::uint64_t message_bytes_ = 0;  // of the message in progress
  ws_opcode message_op_ = ws_opcode::text;
  state state_ = state::open;
  bool opened_ = false;
  bool busy_ = false;          // inside a call from the connection: it will write what we queue
  bool direct_ = false;        // the current message was delivered straight from the read buffer
  bool ping_sent_ = false;     // the idle ping is out, waiting for any frame
  bool want_drain_ = false;    // a send said `buffered`
  bool compressed_ = false;    // the current message has RSV1 (permessage-deflate)
  bool frame_started_ = false;  // payload of the current frame has arrived
  std::uint16_t close_code_ = 1006;
  std::uint32_t progress_ = 0;  // (packed beside the flags: an idle connection's size counts)
};

}  // namespace hive::detail

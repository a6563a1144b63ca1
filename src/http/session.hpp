// The sans-I/O HTTP/1.1 server session: bytes in, messages to the application through the
// dispatcher, response bytes out. It knows nothing of sockets; the connection (src/net) moves
// bytes and tells it when a deadline passed. Every split point, pipeline and hostile input can
// therefore be tested without a socket.
//
//   auto in = s.prepare();  n = read(fd, in.data(), in.size());  s.commit(n);
//   writev(fd, s.output() …);  s.consume(written);
//   if (s.done()) close;
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "app/dispatcher.hpp"
#include "hive/response.hpp"
#include "http/buffers.hpp"
#include "http/request_parser.hpp"
#include "net/input_buffer.hpp"
#include "net/output_queue.hpp"

namespace hive::detail {

class cidr_set;
class date_cache;

// A clock that stays at 0, for sessions driven without one (tests).
inline constexpr std::int64_t no_clock = 0;

struct session_config {
  parser_limits limits;
  const date_cache* date = nullptr;         // required: Server and Date fields
  const std::int64_t* now_ms = &no_clock;   // the worker's clock, for finished records
  const cidr_set* trusted_proxies = nullptr;
};

class session final : private responder {
 public:
  // What the connection's deadline is for right now.
  enum class phase {
    idle,      // between requests: idle keep-alive timeout
    head,      // part of a header section: header timeout
    body,      // part of a body: body timeout
    handling,  // a deferred response is outstanding: no timeout of its own
    closing,   // the last response is queued; close once it is written
  };

  session(dispatcher& d, const session_config& cfg, buffer_pool& pool, input_pool& inputs);
  ~session();
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  // The connection's peer, for requests and finished records (must outlive the session).
  void set_peer(const address* peer) { peer_ = peer; }

  // Where to read into (borrows a buffer from the pool; never empty).
  std::span<char> prepare();
  // `n` bytes were read into the span prepare() returned: handle every complete request.
  void commit(std::size_t n);
  // Convenience for tests: prepare + copy + commit, as often as needed.
  void feed(std::string_view bytes);
  // The client closed its sending side: answer what is complete, then close.
  void on_eof();
  // The client went away (its side closed with nothing unread, or a reset) while a deferred
  // response was pending: nobody will read the answer, so the handle stops being pending.
  void peer_gone();

  // What to send (null: nothing).
  output_queue* output() { return b_ && !b_->out.empty() ? &b_->out : nullptr; }
  bool has_output() const { return b_ && !b_->out.empty(); }
  // `n` bytes of output were written.
  void consume(std::size_t n);

  phase current_phase() const;
  // False while a deferred response holds the pipeline, or once closing.
  bool wants_read() const { return !closing_ && !deferred_pending_ && !eof_; }
  // Input to read while a deferred response holds the pipeline: only so much is buffered (the
  // rest waits in the socket), but a read that finds the client gone must be possible.
  bool accepts_input() const;
  // Closing and everything written: the connection should close now.
  bool done() const { return (closing_ || (eof_ && !deferred_pending_)) && !has_output(); }
  // The close follows a rejection: bytes the client already sent may still arrive, so the
  // connection should half-close and drain rather than reset (RFC 9112 §9.6).
  bool linger() const { return linger_; }
  // Bytes were received that no request consumed (pipelined after a close): closing now would
  // make the kernel reset the connection, so the shell should linger too.
  bool unread_input() const;
  bool draining() const { return draining_; }
  // Memory the client decides the size of, for the worker's budgets: the input buffer and the
  // body received; the copied output waiting to be sent and the response body it was copied from.
  std::size_t input_held() const {
    return (in_ ? in_.cap : 0) + (b_ ? b_->body.capacity() : 0);
  }
  std::size_t output_held() const {
    if (!b_) return 0;
    const bool copy = b_->res.kind() == response::body_kind::bytes;
    return b_->out.arena_bytes() + (copy ? b_->res.body_bytes().size() : 0);
  }

  std::uint64_t messages_begun() const {
    return messages_done_ + (b_ ? b_->parser.messages_begun() : 0);
  }
  // Gives the buffers back to the pool if nothing is in progress (after a read found nothing).
  void release_if_idle();
  // Gives them back whatever is in progress (the connection is closed).
  void release_all();

  // The current phase's deadline passed.
  void timeout();
  // Graceful shutdown: the response to the last request received says `Connection: close`.
  // An idle session is not closed here: the shell decides how long an idle client may still send.
  void drain();

  // Called when a deferred response added output outside commit(): from inside user code, so
  // the shell should come back to the session later, from its own loop.
  void set_wake(void (*fn)(void*), void* ctx) {
    wake_ = fn;
    wake_ctx_ = ctx;
  }

 private:
  // responder: hive::deferred's way back here.
  std::shared_ptr<deferred_state> make_deferred() override;
  response* deferred_target() override;
  void complete_deferred(bool failed) override;

  void process();
  void route_head();
  void handle_message();
  void dispatch();
  void finish_response(origin by);
  void reject(error e);
  void compact();
  void start_response();
  void handler_failed(std::string_view what);
  void answer_500();
  conn_buffers& buffers();
  void give_buffers();
  request_parser::state parser_phase() const {
    return b_ ? b_->parser.phase() : request_parser::state::idle;
  }
  std::int64_t now() const { return *cfg_.now_ms; }

  dispatcher& dispatcher_;
  const session_config& cfg_;
  buffer_pool& pool_;
  input_pool& inputs_;
  input_buffer in_;
  std::unique_ptr<conn_buffers> b_;
  const address* peer_ = nullptr;
  std::size_t parsed_ = 0;
  std::uint64_t messages_done_ = 0;  // begun by parsers given back to the pool
  bool routed_ = false;
  bool closing_ = false;
  bool linger_ = false;
  bool eof_ = false;
  bool draining_ = false;
  bool deferred_pending_ = false;
  bool deferred_taken_ = false;  // defer() was called for the response in progress
  bool handler_failed_ = false;  // it threw: hive answered 500
  bool in_dispatch_ = false;
  bool finished_inline_ = false;
  bool head_request_ = false;
  bool keep_alive_ = true;
  bool http10_ = false;
  void (*wake_)(void*) = nullptr;
  void* wake_ctx_ = nullptr;
};

}  // namespace hive::detail

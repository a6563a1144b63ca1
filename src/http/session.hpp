// The sans-I/O HTTP/1.1 server session: bytes in, messages to the application through the
// dispatcher, response bytes out. It knows nothing of sockets; the connection (src/net) moves
// bytes, asks step() what to do next and tells it when a deadline passed. Every split point,
// pipeline and hostile input can therefore be tested without a socket.
//
//   auto in = s.prepare();  n = read(fd, in.data(), in.size());  s.commit(n);
//   writev(fd, s.output() …);  s.consume(written);
//   switch (s.step()) …
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "app/body_state.hpp"
#include "app/dispatcher.hpp"
#include "hive/response.hpp"
#include "http/buffers.hpp"
#include "http/request_parser.hpp"
#include "net/input_buffer.hpp"
#include "net/output_queue.hpp"
#include "net/protocol.hpp"

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

class session final : public protocol, private responder {
 public:
  // Where the session is; the connection's next move follows from it (step()).
  enum class state : std::uint8_t {
    reading,      // parsing requests and answering each as it completes
    dispatching,  // inside the application's handler
    awaiting,     // a deferred response holds the pipeline
    streaming,    // a streamed response holds the pipeline: parts go out as they are written
    receiving,    // a stream_body route's handler ran at the head: its body goes to the reader
    switching,    // a 101 is queued: once it is written the successor takes the connection
    closing,      // the last response is queued: close once it is written
    handed_off,   // the successor has the connection
  };

  session(dispatcher& d, const session_config& cfg, buffer_pool& pool, input_pool& inputs);
  ~session() override;
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  // The connection's peer, for requests and finished records (must outlive the session).
  void set_peer(const address* peer) { peer_ = peer; }

  // protocol
  std::span<char> prepare() override;
  void commit(std::size_t n) override;
  // The client closed its sending side: answer what is complete, then close. With nothing
  // complete left to answer while the application holds a response, the client is gone.
  void on_eof() override;
  void peer_gone() override;
  output_queue* output() override { return b_ && !b_->out.empty() ? &b_->out : nullptr; }
  void consume(std::size_t n) override;
  next step() const override;
  timer read_timer() const override;
  // A streamed body's bytes count as progress: its timeout is one of inactivity.
  std::uint64_t progress() const override {
    return state_ == state::receiving ? messages_begun() + b_->parser.body_seen() : messages_begun();
  }
  void timeout() override;
  // Graceful shutdown: the answer to the last request received says close; an open stream is
  // told (stream::on_stop).
  void drain() override;
  void release_if_idle() override;
  std::unique_ptr<protocol> successor() override;
  // Memory the client decides the size of: the input buffer and the body received so far; the
  // copied output queued for it. Spare capacity a pooled buffer kept from earlier requests is not
  // counted: it belongs to the pool, and closing this connection would not free it.
  held_bytes held() const override {
    const std::size_t input = in_ ? in_.cap : 0;
    if (!b_) return {input, 0};
    return {input + b_->body.size(), b_->out.arena_used()};
  }

  // Convenience for tests: prepare + copy + commit, as often as needed.
  void feed(std::string_view bytes);
  bool has_output() const { return b_ && !b_->out.empty(); }
  state current() const { return state_; }
  // The close follows a rejection: the connection half-closes and drains (RFC 9112 §9.6).
  bool linger() const { return linger_; }
  // Bytes were received that no request consumed (pipelined after a close).
  bool unread_input() const { return in_ && parsed_ < in_.len; }
  std::uint64_t messages_begun() const {
    return messages_done_ + (b_ ? b_->parser.messages_begun() : 0);
  }
  // Woken from the loop after a deferred or streamed response moved on outside a call from the
  // connection: handles what waited behind it.
  void resume();
  // Gives the buffers back whatever is in progress (the connection is closed).
  void release_all();

 private:
  // How the response to the message in progress is being produced.
  enum class answer : std::uint8_t {
    direct,    // the handler fills the response before it returns
    deferred,  // a deferred handle was taken and not yet finished
    finished,  // a deferred handle was finished before the handler returned
    failed,    // the handler threw, or a handle was dropped unfinished: hive's 500
  };

  // responder: hive::deferred's and hive::stream's way back here.
  std::shared_ptr<deferred_state> make_deferred() override;
  response* deferred_target() override;
  void complete_deferred(bool failed) override;
  std::shared_ptr<stream_state> make_stream() override;
  bool stream_write(std::string_view part) override;
  void stream_end(bool complete, std::string_view trailers) override;
  std::shared_ptr<body_state> make_body_reader() override;
  void body_resume() override;

  void process();
  void route_head();
  bool route_body_limit();
  void answer_at_head(origin by);
  void build_request();
  void build_request_elsewhere();  // the same, out of line, for session_body.cpp (another unit)
  void run_afters();
  void keep_head();
  void handle_message();
  // `body_unread`: the handler runs at the head of a streamed body (the answer closes unless
  // the body is complete by the time it is sent).
  template <bool body_unread = false>
  void dispatch();
  bool head_filters_answered();
  // A stream_body route (session_body.cpp).
  void begin_body();
  void end_body();
  void streamed_message_done();
  void answer_early(bool failed);
  void cut_body();
  bool body_paused() const { return b_->route.body != nullptr && b_->route.body->paused; }
  bool try_upgrade();
  void finish_response(origin by);
  // `status` 0: the response's.
  void keep_record();
  void report_finished(origin by, std::uint64_t bytes_out, int status = 0);
  void start_stream();
  void reject(error e);
  void close_after(bool linger);
  void compact();
  void start_response();
  // `e`: the exception, when one derived from std::exception (it may say what to answer).
  void handler_failed(std::string_view what, const std::exception* e = nullptr);
  void answer_500();
  conn_buffers& buffers();
  void give_buffers();
  request_parser::state parser_phase() const {
    return b_ ? b_->parser.phase() : request_parser::state::idle;
  }
  bool holds_pipeline() const { return state_ == state::awaiting || state_ == state::streaming; }
  bool accepts_held_input() const;
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
  state state_ = state::reading;
  answer answer_ = answer::direct;
  // How the response in progress is framed (from its request).
  struct framing {
    bool keep_alive = true;
    bool head_request = false;
    bool http10 = false;
    bool chunked = false;  // a streamed body in chunks (HTTP/1.1)
  } framing_;
  bool routed_ = false;     // the message in progress was routed at its head
  bool unrouted_ = false;   // the answer in progress refuses a request before it was routed
  bool head_passed_ = false;  // head filters ran and passed: keep the headers they set
  bool eof_ = false;        // the client sends nothing more
  bool linger_ = false;     // the close follows a rejection: half-close and drain first
  bool draining_ = false;
};

}  // namespace hive::detail

#include "ws/ws_session.hpp"

#include <stdexcept>
#include <vector>

#include "util/log.hpp"
#include "ws/topics.hpp"

namespace hive::detail {

namespace {

// Frames are parsed straight out of the read, and whatever must outlive it is copied into the
// message, so one buffer per worker thread serves every WebSocket connection.
constexpr std::size_t ws_read_bytes = 64 * 1024;
// Payloads up to this are copied into the output arena (one write with their head); larger
// ones are referenced.
constexpr std::size_t ws_copy_bytes = 16 * 1024;
// A message buffer grown past this is given back once its message is delivered.
constexpr std::size_t ws_keep_bytes = 64 * 1024;

std::span<char> ws_read_buffer() {
  thread_local std::unique_ptr<char[]> buf(new char[ws_read_bytes]);
  return {buf.get(), ws_read_bytes};
}

// Compressed messages are inflated into, and outgoing ones compressed into, these per-thread
// buffers: a connection keeps no buffer for them between messages.
std::string& ws_inflate_buffer() {
  thread_local std::string b;
  return b;
}

std::string& ws_deflate_buffer() {
  thread_local std::string b;
  return b;
}

void ws_trim_buffer(std::string& b) {
  if (b.capacity() > ws_keep_bytes) std::string().swap(b);
}

// Output queues of connections that have nothing to send, ready for the next that has: an echo
// or a broadcast then costs no malloc per message, while an idle WebSocket holds no queue.
// Bounded: queues past `ws_spare_queues` are freed, and so is the memory of one that grew past
// ws_keep_bytes (its arena, or its segment list after a backlog of published frames).
constexpr std::size_t ws_spare_queues = 64;

std::vector<std::unique_ptr<output_queue>>& ws_spare() {
  thread_local std::vector<std::unique_ptr<output_queue>> spare;
  return spare;
}

std::unique_ptr<output_queue> ws_take_queue() {
  auto& spare = ws_spare();
  if (spare.empty()) return std::make_unique<output_queue>();
  auto q = std::move(spare.back());
  spare.pop_back();
  return q;
}

void ws_return_queue(std::unique_ptr<output_queue>& q) {
  auto& spare = ws_spare();
  if (!q->empty() || spare.size() >= ws_spare_queues) {
    q.reset();
    return;
  }
  if (q->capacity_bytes() > ws_keep_bytes) q->release();
  if (spare.capacity() == 0) spare.reserve(ws_spare_queues);
  spare.push_back(std::move(q));
}

ws_op ws_wire_op(ws_opcode op) { return op == ws_opcode::text ? ws_op::text : ws_op::binary; }

std::shared_ptr<const std::string> ws_frame_of(std::string_view payload, ws_op op, bool compressed) {
  auto f = std::make_shared<std::string>();
  f->resize(frame_head_size(payload.size()) + payload.size());
  char* p = write_frame_head(f->data(), op, payload.size(), true, compressed);
  if (!payload.empty()) std::memcpy(p, payload.data(), payload.size());
  return f;
}

}  // namespace

namespace {
// Where the handle starts in a session's allocation.
constexpr std::size_t ws_handle_offset =
    (sizeof(ws_session) + alignof(std::max_align_t) - 1) / alignof(std::max_align_t) * alignof(std::max_align_t);
}  // namespace

std::unique_ptr<ws_session> ws_session::create(const ws_route& route, const address* peer) {
  void* mem = ::operator new(ws_handle_offset + route.handle_bytes);
  // The handle's constructor (the user data's) may throw: then the memory is given back here.
  try {
    return std::unique_ptr<ws_session>(::new (mem) ws_session(route, peer, static_cast<char*>(mem) + ws_handle_offset));
  } catch (...) {
    ::operator delete(mem);
    throw;
  }
}

ws_session::ws_session(const ws_route& route, const address* peer, void* handle_at)
    : route_(&route),
      handle_(route.construct(handle_at)),
      peer_(peer),
      parser_(route.settings.max_frame_bytes) {
  handle_->s_ = this;
}

void ws_session::agreed(std::string protocol_name, const deflate_params* deflate) {
  if (!protocol_name.empty()) rare().protocol_name = std::move(protocol_name);
  if (deflate == nullptr) return;
  rare().deflate = std::make_unique<deflate_state>(deflate_state{*deflate, nullptr, nullptr});
  parser_.allow_rsv(0x40);
}

ws_session::~ws_session() {
  // Normally peer_gone() did this; a connection torn down otherwise must not leave a dangling
  // subscriber behind.
  if (rare_) {
    for (const auto& t : rare_->topics) topic_remove(t, this);
  }
  handle_->~websocket_base();
}

ws_session::rare_state& ws_session::rare() {
  if (!rare_) rare_ = std::make_unique<rare_state>();
  return *rare_;
}

output_queue& ws_session::out() {
  if (!out_) out_ = ws_take_queue();
  return *out_;
}

std::string& ws_session::message() {
  if (!message_) message_ = std::make_unique<std::string>();
  return *message_;
}

void ws_session::set_reason(std::string_view reason) {
  if (!reason.empty()) {
    rare().close_reason.assign(reason);
  } else if (rare_) {
    rare_->close_reason.clear();
  }
}

// The application hears of the connection once the connection runs it (after the 101 is out),
// before any of its messages.
void ws_session::ensure_open() {
  if (opened_) return;
  opened_ = true;
  if (!route_->open) return;
  const bool was = busy_;
  busy_ = true;
  try {
    route_->open(*handle_);
  } catch (const std::exception& e) {
    user_failed(e.what());
  } catch (...) {
    user_failed("an exception not derived from std::exception");
  }
  busy_ = was;
}

std::span<char> ws_session::prepare() {
  ensure_open();
  return ws_read_buffer();
}

void ws_session::commit(std::size_t n) {
  ++progress_;
  ping_sent_ = false;  // anything from the client shows it is alive
  if (state_ != state::open && state_ != state::closing) return;
  busy_ = true;
  auto buf = ws_read_buffer();
  parser_.feed(buf.data(), n, *this);
  if (parser_.error() != frame_error::none) fail(close_code_for(parser_.error()));
  busy_ = false;
}

bool ws_session::on_frame(const frame_header& h) {
  frame_started_ = false;
  if (is_control(h.op)) {
    rare().control.clear();
    return true;
  }
  if (h.op != ws_op::continuation) {
    message_op_ = h.op == ws_op::text ? ws_opcode::text : ws_opcode::binary;
    message_bytes_ = 0;
    if (message_) message_->clear();
    utf8_.reset();
    direct_ = false;
    compressed_ = (h.rsv & 0x40) != 0;  // the parser allows RSV1 only with permessage-deflate
  }
  message_bytes_ += h.length;
  if (message_bytes_ > route_->settings.max_message_bytes) {
    fail(1009);
    return false;
  }
  return true;
}

bool ws_session::on_payload(char* data, std::size_t n) {
  const bool whole = !frame_started_ && n == frame().length;
  frame_started_ = true;
  if (is_control(frame().op)) {
    rare_->control.append(data, n);  // the parser bounds it at 125
    return true;
  }
  // §8.1: fail at the first byte that cannot be UTF-8, not at the message's end. (A compressed
  // message is checked once inflated.)
  if (message_op_ == ws_opcode::text && !compressed_ && !utf8_.feed(data, n)) {
    fail(1007);
    return false;
  }
  if (state_ != state::open) return true;  // closing: read to the client's close, deliver nothing
  if (compressed_) {
    if (whole && frame().fin && frame().op != ws_op::continuation) {
      direct_ = true;
      return inflate_and_deliver({data, n});
    }
    message().append(data, n);
    return true;
  }
  // A whole message in one frame and one read: straight from the read buffer, no copy.
  if (whole && frame().fin && frame().op != ws_op::continuation) {
    if (message_op_ == ws_opcode::text && !utf8_.complete()) {
      fail(1007);
      return false;
    }
    direct_ = true;
    deliver({data, n});
    return state_ == state::open || state_ == state::closing;
  }
  message().append(data, n);
  return true;
}

bool ws_session::on_frame_end() {
  if (is_control(frame().op)) return handle_control();
  if (!frame().fin) return true;
  if (direct_) {
    direct_ = false;
    return state_ == state::open || state_ == state::closing;
  }
  if (compressed_) {
    if (state_ == state::open && !inflate_and_deliver(message())) return false;
  } else if (message_op_ == ws_opcode::text && !utf8_.complete()) {
    fail(1007);  // the message ends inside a sequence
    return false;
  } else if (state_ == state::open) {
    deliver(message());
  }
  if (message_ && message_->capacity() > ws_keep_bytes) {
    message_.reset();
  } else if (message_) {
    message_->clear();
  }
  return state_ == state::open || state_ == state::closing;
}

// A whole compressed message: inflated (at most max_message_bytes: a zip bomb gets 1009),
// checked, delivered.
bool ws_session::inflate_and_deliver(std::string_view payload) {
  const auto& p = deflate()->params;
  ws_inflater* in;
  if (p.client_no_context_takeover) {
    in = &shared_inflater();
  } else {
    if (!deflate()->in) deflate()->in = std::make_unique<ws_inflater>(p.client_window_bits);
    in = deflate()->in.get();
  }
  std::string& out = ws_inflate_buffer();
  switch (in->inflate_message(payload, out, route_->settings.max_message_bytes, p.client_no_context_takeover)) {
    case inflate_result::ok:
      break;
    case inflate_result::too_big:
      ws_trim_buffer(out);
      fail(1009);
      return false;
    case inflate_result::bad:
      ws_trim_buffer(out);
      fail(1007);  // as Node's ws: the payload is not what its frame says (§7.4.1)
      return false;
  }
  if (message_op_ == ws_opcode::text && !valid_utf8(out.data(), out.size())) {
    fail(1007);
    return false;
  }
  deliver(out);
  ws_trim_buffer(out);
  return state_ == state::open || state_ == state::closing;
}

bool ws_session::handle_control() {
  const std::string_view payload(rare_->control);
  switch (frame().op) {
    case ws_op::ping:
      if (state_ == state::open) control_frame(ws_op::pong, payload);  // §5.5.2: at once
      return true;
    case ws_op::pong:
      return true;  // any frame clears the idle ping (commit)
    case ws_op::close: {
      std::uint16_t code = 1005;  // none received (§7.1.5)
      std::string_view reason;
      if (payload.size() == 1) {
        fail(1002);
        return false;
      }
      if (payload.size() >= 2) {
        code = static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                          static_cast<unsigned char>(payload[1]));
        reason = payload.substr(2);
        if (!valid_close_code(code)) {
          fail(1002);
          return false;
        }
        if (!valid_utf8(reason.data(), reason.size())) {
          fail(1007);
          return false;
        }
      }
      if (state_ == state::open) {
        close_code_ = code;
        set_reason(reason);
        // §5.5.1: echo the status code; a close without one is answered with an empty one.
        queue_close(code == 1005 ? 0 : code, {});
      }
      // Closing: this is the reply to ours; either way the server closes TCP first (§7.1.1).
      state_ = state::closed;
      return false;
    }
    default:
      return true;
  }
}

void ws_session::deliver(std::string_view message) {
  if (!route_->message) return;
  try {
    route_->message(*handle_, message, message_op_);
  } catch (const std::exception& e) {
    user_failed(e.what());
  } catch (...) {
    user_failed("an exception not derived from std::exception");
  }
}

void ws_session::user_failed(const char* what) {
  warn("WebSocket handler threw: ", what, "; closing with 1011");
  if (state_ == state::open) {
    close_code_ = 1011;
    queue_close(1011, {});
    state_ = state::closing;
  }
}

void ws_session::control_frame(ws_op op, std::string_view payload) {
  char* p = out().append_space(2 + payload.size());
  p = write_frame_head(p, op, payload.size());
  if (!payload.empty()) std::memcpy(p, payload.data(), payload.size());
}

void ws_session::queue_close(std::uint16_t code, std::string_view reason) {
  char body[125];
  std::size_t len = 0;
  if (code != 0) {
    body[0] = static_cast<char>(code >> 8);
    body[1] = static_cast<char>(code & 0xFF);
    len = 2 + std::min<std::size_t>(reason.size(), 123);
    if (len > 2) std::memcpy(body + 2, reason.data(), len - 2);
  }
  control_frame(ws_op::close, {body, len});
  ++progress_;  // a new deadline: close_timeout
  poke();
}

// Fails the connection (§7.1.7): a close frame with `code`, then TCP close.
void ws_session::fail(std::uint16_t code, std::string_view reason) {
  if (state_ == state::open) {
    queue_close(code, reason);
    close_code_ = code;
  }
  if (state_ != state::gone) state_ = state::closed;
}

void ws_session::close(std::uint16_t code, std::string_view reason) {
  if (!valid_close_code(code) || code == 1002) {
    throw std::invalid_argument("hive: WebSocket close code " + std::to_string(code) +
                                " cannot be sent; use 1000, 1001, 1003, 1007..1014 or 3000..4999");
  }
  if (reason.size() > 123 || !valid_utf8(reason.data(), reason.size())) {
    throw std::invalid_argument("hive: a WebSocket close reason is at most 123 bytes of UTF-8");
  }
  if (state_ != state::open) return;
  close_code_ = code;
  set_reason(reason);
  queue_close(code, reason);
  state_ = state::closing;
}

bool ws_session::admit(std::size_t bytes) {
  if (state_ != state::open) return false;
  const std::size_t queued = buffered_bytes();
  if (queued == 0 || queued + bytes <= route_->settings.max_buffered_bytes) return true;
  // A slow consumer: nothing more can reach it, not even a close frame. Let it go.
  out_.reset();
  close_code_ = 1006;
  set_reason("slow consumer: send buffer limit");
  state_ = state::closed;
  poke();
  return false;
}

ws_send ws_session::after_send() {
  poke();
  if (buffered_bytes() <= route_->settings.max_backpressure_bytes) return ws_send::sent;
  want_drain_ = true;
  return ws_send::buffered;
}

ws_send ws_session::send(std::string_view message, ws_opcode op) {
  if (!deflate() || message.size() < route_->settings.deflate_min_bytes) {
    return send_payload(message, ws_wire_op(op), false);
  }
  if (state_ != state::open) return ws_send::dropped;
  const auto& p = deflate()->params;
  ws_deflater* d;
  if (p.server_no_context_takeover) {
    d = &shared_deflater(p.server_window_bits);
  } else {
    if (!deflate()->out) deflate()->out = std::make_unique<ws_deflater>(p.server_window_bits);
    d = deflate()->out.get();
  }
  std::string& z = ws_deflate_buffer();
  z.clear();
  if (!d->compress(message, z, p.server_no_context_takeover)) {
    // Out of memory in zlib: the client's context no longer matches ours.
    fail(1011);
    poke();
    return ws_send::dropped;
  }
  const auto r = send_payload(z, ws_wire_op(op), true);
  ws_trim_buffer(z);
  return r;
}

ws_send ws_session::send_payload(std::string_view payload, ws_op op, bool compressed) {
  const std::size_t head = frame_head_size(payload.size());
  if (!admit(head + payload.size())) return ws_send::dropped;
  if (payload.size() <= ws_copy_bytes) {
    char* p = out().append_space(head + payload.size());
    p = write_frame_head(p, op, payload.size(), true, compressed);
    if (!payload.empty()) std::memcpy(p, payload.data(), payload.size());
  } else {
    write_frame_head(out().append_space(head), op, payload.size(), true, compressed);
    auto copy = std::make_shared<const std::string>(payload);
    out().append_view(*copy, copy);
  }
  return after_send();
}

ws_send ws_session::send_frame(const std::shared_ptr<const std::string>& frame) {
  if (!admit(frame->size())) return ws_send::dropped;
  out().append_view(*frame, frame);
  return after_send();
}

ws_send ws_session::send_published(ws_published& m) {
  if (!deflate() || m.message.size() < route_->settings.deflate_min_bytes) {
    if (!m.plain) m.plain = ws_frame_of(m.message, ws_wire_op(m.op), false);
    return send_frame(m.plain);
  }
  const auto& p = deflate()->params;
  // Our own context: the compressed bytes depend on what this connection sent before.
  if (!p.server_no_context_takeover) return send(m.message, m.op);
  auto& f = m.deflated[p.server_window_bits - 9];
  if (!f) {
    std::string& z = ws_deflate_buffer();
    z.clear();
    if (!shared_deflater(p.server_window_bits).compress(m.message, z, true)) {
      if (!m.plain) m.plain = ws_frame_of(m.message, ws_wire_op(m.op), false);
      return send_frame(m.plain);  // a message may always go uncompressed (no context kept)
    }
    f = ws_frame_of(z, ws_wire_op(m.op), true);
    ws_trim_buffer(z);
  }
  return send_frame(f);
}

void ws_session::on_eof() {
  // The client closed TCP: after the close handshake that is the end; before it, abnormal.
  if (state_ == state::open || state_ == state::closing) {
    if (state_ == state::open) {
      close_code_ = 1006;
      set_reason({});
    }
    out_.reset();
    state_ = state::closed;
  }
}

void ws_session::peer_gone() {
  if (state_ == state::gone) return;
  state_ = state::gone;
  if (rare_) {
    for (const auto& t : rare_->topics) topic_remove(t, this);
    rare_->topics.clear();
  }
  if (!opened_ || !route_->close) return;
  busy_ = true;  // sends from the close callback are dropped; nothing must wake a closed connection
  try {
    route_->close(*handle_, close_code_, close_reason());
  } catch (const std::exception& e) {
    warn("WebSocket close handler threw: ", e.what());
  } catch (...) {
    warn("WebSocket close handler threw");
  }
}

output_queue* ws_session::output() {
  ensure_open();
  return out_ && !out_->empty() ? out_.get() : nullptr;
}

void ws_session::consume(std::size_t n) {
  out_->consume(n);
  // All written: an idle WebSocket keeps nothing but its state; the queue and its arena go to the
  // worker's spares for the next connection that sends.
  if (out_->empty()) ws_return_queue(out_);
  if (!want_drain_ || buffered_bytes() > route_->settings.max_backpressure_bytes) return;
  want_drain_ = false;
  if (state_ != state::open || !route_->drain) return;
  busy_ = true;
  try {
    route_->drain(*handle_);
  } catch (const std::exception& e) {
    user_failed(e.what());
  } catch (...) {
    user_failed("an exception not derived from std::exception");
  }
  busy_ = false;
}

protocol::next ws_session::step() const {
  return state_ == state::open || state_ == state::closing ? next::read : next::close;
}

protocol::timer ws_session::read_timer() const {
  if (state_ == state::open && !ping_sent_ && route_->settings.idle_timeout.count() == 0) return timer::none;
  return timer::custom;
}

std::chrono::milliseconds ws_session::custom_timeout() const {
  if (state_ == state::closing) return route_->settings.close_timeout;
  if (ping_sent_) return route_->settings.pong_timeout;
  return route_->settings.idle_timeout;
}

void ws_session::timeout() {
  switch (state_) {
    case state::open:
      if (!ping_sent_ && route_->settings.send_pings) {
        control_frame(ws_op::ping, {});
        ping_sent_ = true;
        ++progress_;  // the pong deadline
        return;
      }
      close_code_ = 1006;
      set_reason("idle timeout");
      state_ = state::closed;
      return;
    case state::closing:
      state_ = state::closed;  // no reply in time: close anyway (§7.1.1)
      return;
    case state::closed:
    case state::gone:
      return;
  }
}

// Graceful stop or reload: going away (1001), then the close handshake under close_timeout.
void ws_session::drain() {
  if (state_ != state::open) return;
  close_code_ = 1001;
  queue_close(1001, "server going away");
  state_ = state::closing;
  wake();
}

void ws_session::release_if_idle() {
  if (out_ && out_->empty()) ws_return_queue(out_);
  if (message_ && message_->empty() && !parser_.in_message()) message_.reset();
}

held_bytes ws_session::held() const {
  held_bytes h{message_ ? message_->capacity() : 0, out_ ? out_->arena_used() : 0};
  // permessage-deflate with context takeover keeps zlib streams for the connection's life, up to
  // about 300 KiB a connection, which a client asks for: they count like buffers, so the worker's
  // budgets shed such connections before they exhaust its memory.
  if (const deflate_state* d = deflate()) {
    if (d->in) h.input += d->in->memory();
    if (d->out) h.output += d->out->memory();
  }
  return h;
}

bool ws_session::subscribe(std::string_view topic) {
  if (subscribed(topic) || state_ == state::gone) return false;
  rare().topics.emplace_back(topic);
  topic_add(topic, this);
  return true;
}

bool ws_session::unsubscribe(std::string_view topic) {
  if (!rare_) return false;
  auto& topics = rare_->topics;
  for (auto it = topics.begin(); it != topics.end(); ++it) {
    if (*it != topic) continue;
    topic_remove(topic, this);
    topics.erase(it);
    return true;
  }
  return false;
}

bool ws_session::subscribed(std::string_view topic) const {
  if (!rare_) return false;
  for (const auto& t : rare_->topics) {
    if (t == topic) return true;
  }
  return false;
}

}  // namespace hive::detail

namespace hive {

ws_send websocket_base::send(std::string_view message, ws_opcode op) { return s_->send(message, op); }
void websocket_base::close(std::uint16_t code, std::string_view reason) { s_->close(code, reason); }
bool websocket_base::subscribe(std::string_view topic) { return s_->subscribe(topic); }
bool websocket_base::unsubscribe(std::string_view topic) { return s_->unsubscribe(topic); }
bool websocket_base::subscribed(std::string_view topic) const { return s_->subscribed(topic); }
bool websocket_base::publish(std::string_view topic, std::string_view message, ws_opcode op) {
  return ws_publish(topic, message, op);
}
std::size_t websocket_base::buffered_bytes() const { return s_->buffered_bytes(); }
std::string_view websocket_base::protocol() const { return s_->protocol_name(); }
const address& websocket_base::remote_address() const { return s_->remote(); }

}  // namespace hive

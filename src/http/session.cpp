#include "http/session.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <stdexcept>
#include <string>

#include "app/route_entry.hpp"
#include "app/stream_state.hpp"
#include "http/date_cache.hpp"
#include "http/serializer.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

namespace hive::detail {

namespace {
// Reads smaller than this are not worth a syscall: compact or grow first.
constexpr std::size_t min_read_bytes = 4096;
// Output queued past this stops the handling of further pipelined requests until the client
// reads: a client that pipelines and never reads cannot make the worker buffer without bound.
constexpr std::size_t max_queued_output = 1024 * 1024;
// A stream's write() asks the producer to wait above this much queued output.
constexpr std::size_t stream_high_water = 64 * 1024;

// Splits the target into the path to route on and the query.
std::pair<std::string_view, std::string_view> split_target(std::string_view target) {
  std::string_view path = target;
  // absolute-form (RFC 9112 §3.2.2): route on its path; the authority is not ours to check.
  if (!target.empty() && target.front() != '/' && target != "*") {
    const auto scheme = target.find("://");
    const auto slash = scheme == std::string_view::npos ? scheme : target.find('/', scheme + 3);
    path = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
  }
  std::string_view query;
  if (const auto q = path.find('?'); q != std::string_view::npos) {
    query = path.substr(q + 1);
    path = path.substr(0, q);
  }
  return {path, query};
}
}  // namespace

// Fills hive::request from the parser's spans; the one place that knows request's layout.
struct request_builder {
  // What stays the same for every request of a connection: set when it borrows the buffers.
  static void bind(request& r, conn_buffers& b, const address* peer, const cidr_set* trusted) {
    r.remote_ = peer != nullptr ? peer : &request::no_address_;  // never another connection's
    r.trusted_ = trusted;
    r.scratch_ = &b.scratch;
    r.link_ = &b.link;
  }
  static void build(request& r, const request_parser& p, const input_buffer& in, conn_buffers& b,
                    std::string_view path, std::string_view query) {
    const char* base = in.data.get();
    r.method_ = p.method();
    r.target_ = {base + p.target().off, p.target().len};
    r.path_ = path;
    r.query_ = query;
    r.major_ = p.major();
    r.minor_ = p.minor();
    b.headers.clear();
    for (const auto& h : b.raw_headers) {
      b.headers.push_back({{base + h.name.off, h.name.len},
                           trim_ows({base + h.value.off, h.value.len})});
    }
    r.headers_ = b.headers;
    r.params_ = b.route.params;
    r.body_ = b.body;
  }
  // The head's bytes [from, from + len) were copied to `to`: views into them follow.
  static void rebase(request& r, conn_buffers& b, const char* from, std::size_t len, const char* to) {
    const auto move = [&](std::string_view& v) {
      if (v.data() >= from && v.data() + v.size() <= from + len) v = {to + (v.data() - from), v.size()};
    };
    move(r.method_);
    move(r.target_);
    move(r.path_);
    move(r.query_);
    for (auto& h : b.headers) {
      move(h.name);
      move(h.value);
    }
  }
};

session::session(dispatcher& d, const session_config& cfg, buffer_pool& pool, input_pool& inputs)
    : dispatcher_(d), cfg_(cfg), pool_(pool), inputs_(inputs) {}

session::~session() { release_all(); }

void session::release_all() {
  if (in_) inputs_.give(std::move(in_));
  in_ = {};
  parsed_ = 0;
  if (!b_) return;
  if (auto s = b_->deferred.lock()) s->abandon();
  if (auto s = b_->stream.lock()) s->abandon();
  if (auto body = std::move(b_->route.body)) body->finish(false);
  b_->successor.reset();  // closed while switching: nobody takes over
  give_buffers();
}

conn_buffers& session::buffers() {
  if (!b_) {
    b_ = pool_.take();
    b_->link.owner = this;
    b_->body_to = &dispatcher_;
    request_builder::bind(b_->req, *b_, peer_, cfg_.trusted_proxies);
    // The parser holds nothing between messages: a connection between requests needs none, and
    // one taken from the pool starts fresh.
    b_->parser.reset(cfg_.limits);
  }
  return *b_;
}

void session::give_buffers() {
  messages_done_ += b_->parser.messages_begun();
  b_->link.owner = nullptr;
  pool_.give(std::move(b_));
}

std::span<char> session::prepare() {
  if (!in_) in_ = inputs_.take();
  if (in_.cap - in_.len < min_read_bytes) compact();
  // Only a head near its limits or a paused pipeline gets here; the limits bound the growth.
  in_.reserve_free(min_read_bytes);
  return in_.free_space();
}

void session::commit(std::size_t n) {
  if (n == 0 || !in_) return;
  in_.len += n;
  process();
}

void session::feed(std::string_view bytes) {
  while (!bytes.empty()) {
    auto in = prepare();
    const std::size_t n = std::min(in.size(), bytes.size());
    std::memcpy(in.data(), bytes.data(), n);
    commit(n);
    bytes.remove_prefix(n);
  }
}

void session::on_eof() {
  eof_ = true;
  switch (state_) {
    case state::reading:
      // Complete requests are still answered; a half-sent one never completes. step() closes
      // once the answers so far are written.
      break;
    case state::receiving:
      // The body will never be complete.
      peer_gone();
      break;
    case state::awaiting:
    case state::streaming:
      // Nothing complete waits behind the held response: nobody will read it (RFC 9112 §9.6
      // lets a server close). Complete requests still unread are answered first.
      if (!unread_input()) peer_gone();
      break;
    case state::dispatching:
    case state::switching:
    case state::closing:
    case state::handed_off:
      break;
  }
}

void session::peer_gone() {
  eof_ = true;
  const bool streamed = state_ == state::streaming;
  state_ = state::closing;
  if (!b_) return;
  if (auto body = std::move(b_->route.body)) body->finish(false);
  if (auto s = b_->deferred.lock()) s->abandon();  // pending() is false from now on
  b_->deferred.reset();
  if (auto s = b_->stream.lock()) s->abandon();
  b_->stream.reset();
  if (streamed) report_finished(origin::handler, b_->stream_bytes, b_->stream_status);  // cut short, but sent
  b_->out.clear();
}

void session::consume(std::size_t n) {
  if (!b_) return;
  b_->out.consume(n);
  if (!b_->out.empty()) return;
  if (state_ == state::streaming) {
    // The pull side of a stream: its producer may go on (user code, run from the loop).
    if (auto s = b_->stream.lock()) s->drained();
    return;
  }
  process();  // requests held back by the output cap, if any
}

protocol::next session::step() const {
  switch (state_) {
    case state::reading:
      if (!eof_) return next::read;
      return linger_ || unread_input() ? next::linger : next::close;
    case state::awaiting:
    case state::streaming:
      return accepts_held_input() ? next::hold : next::wait;
    case state::receiving:
      // Paused: the consumer has not taken the last piece, so nothing more is read.
      if (eof_) return next::close;
      return body_paused() ? next::wait : next::read;
    case state::dispatching:
      return next::wait;
    case state::switching:
      return next::hand_off;
    case state::closing:
    case state::handed_off:
      break;
  }
  // Unread input (pipelined past a close) would turn close() into a reset that can destroy the
  // answer in flight: the connection half-closes and drains first (RFC 9112 §9.6).
  return linger_ || unread_input() ? next::linger : next::close;
}

protocol::timer session::read_timer() const {
  if (state_ == state::receiving) return timer::body;  // restarted by progress()
  if (state_ != state::reading) return timer::none;
  switch (parser_phase()) {
    case request_parser::state::head: return timer::head;
    case request_parser::state::body: return timer::body;
    case request_parser::state::idle: break;
  }
  return timer::idle;
}

void session::resume() {
  if (state_ == state::reading || state_ == state::receiving) process();
}

void session::process() {
  if (!in_) {
    release_if_idle();
    return;
  }
  while ((state_ == state::reading || (state_ == state::receiving && !body_paused())) &&
         parsed_ < in_.len && (!b_ || b_->out.bytes() < max_queued_output)) {
    conn_buffers& b = buffers();
    if (b.parser.phase() == request_parser::state::idle) {
      b.message_bytes = 0;
      b.message_start_ms = now();
    }
    const std::size_t before = parsed_;
    const auto r = b.parser.execute(in_, b, parsed_);
    parsed_ = b_->parser.parsed();
    b_->message_bytes += parsed_ - before;
    switch (r) {
      case request_parser::result::need_more: break;
      case request_parser::result::body_paused: break;
      case request_parser::result::head_done: route_head(); continue;
      case request_parser::result::message_done: handle_message(); continue;
      case request_parser::result::error: reject(b_->parser.failure()); continue;
    }
    break;
  }
  if (parsed_ == in_.len && parser_phase() == request_parser::state::idle && state_ != state::switching) {
    in_.len = 0;
    parsed_ = 0;
  }
  release_if_idle();
}

void session::start_response() {
  routed_ = true;
  unrouted_ = false;
  head_passed_ = false;
  auto& b = *b_;
  const std::string_view target(in_.data.get() + b_->parser.target().off, b_->parser.target().len);
  const auto [path, query] = split_target(target);
  // Kept as offsets into the target: reading the body may move the head in the buffer.
  b.path = {static_cast<std::uint32_t>(path.data() - target.data()), static_cast<std::uint32_t>(path.size())};
  b.query = {query.empty() ? 0 : static_cast<std::uint32_t>(query.data() - target.data()),
            static_cast<std::uint32_t>(query.size())};
  dispatcher_.route(b_->parser.method(), path, b.route);  // may set route.stream_body
}

// Out of line: a session without filters pays only the flag's test.
[[gnu::noinline]] void session::run_afters() {
  dispatcher_.before_send(b_->req, b_->res, unrouted_ ? nullptr : &b_->route);
}

[[gnu::always_inline]] inline void session::build_request() {
  auto& b = *b_;
  const char* target = in_.data.get() + b_->parser.target().off;
  request_builder::build(b.req, b.parser, in_, b, {target + b.path.off, b.path.len},
                         {target + b.query.off, b.query.len});
}

void session::build_request_elsewhere() { build_request(); }

void session::route_head() {
  start_response();
  if (cfg_.limits.max_route_body_bytes != 0) [[unlikely]] {
    if (!route_body_limit()) return;
  }
  if (b_->route.stream_body) [[unlikely]] {
    begin_body();
    return;
  }
  const bool expect = b_->parser.expects_continue();
  if (!expect && !dispatcher_.filters_at_head()) return;
  // Views into the head as it is now: handle_message builds the request again once the body is in.
  build_request();
  if (head_filters_answered()) return;
  if (!expect) return;
  if (b_->route.target == nullptr) {
    // Do not invite a body nobody will read: answer now and close (RFC 9110 §10.1.1).
    b_->res.reset();
    dispatcher_.hive_answer(b_->route.status, &b_->route, b_->res);
    answer_at_head(origin::hive);
    return;
  }
  serialize_continue(b_->out);
}

// Some route has a body limit of its own: this message gets its route's (or the server's), and a
// declared length past it is refused now, before any body byte is read or 100 Continue sent.
[[gnu::noinline]] bool session::route_body_limit() {
  const std::size_t own = b_->route.max_body;
  const std::size_t limit = own != 0 ? own : cfg_.limits.max_body_bytes;
  b_->parser.set_body_limit(limit);
  if (b_->parser.chunked() || b_->parser.content_length() <= limit) return true;
  build_request();  // for the filters' after()
  b_->res.reset();
  dispatcher_.hive_answer(413, &b_->route, b_->res);
  answer_at_head(origin::hive);
  return false;
}

// Filters that run at the head (views into the head must be built). True: one answered, and
// the answer is queued.
bool session::head_filters_answered() {
  if (!dispatcher_.filters_at_head()) return false;
  b_->res.reset();
  b_->link.owner = nullptr;  // a head filter answers at once: defer() and stream() throw
  const bool answered = dispatcher_.head(b_->req, b_->res, b_->route);
  b_->link.owner = this;
  if (answered) {
    answer_at_head(origin::handler);
    return true;
  }
  head_passed_ = true;  // dispatch() keeps the headers they set
  return false;
}

// An answer decided at head time: the body is never read, so the connection closes after it.
void session::answer_at_head(origin by) {
  framing_ = {false, b_->parser.method() == "HEAD", false, false};
  b_->record_method = b_->parser.method();
  b_->record_target = {in_.data.get() + b_->parser.target().off, b_->parser.target().len};
  finish_response(by);
  close_after(true);
}

void session::handle_message() {
  if (!routed_) start_response();
  if (b_->route.stream_body) [[unlikely]] {
    streamed_message_done();
    return;
  }
  routed_ = false;
  // Built now, not at head_done: reading the body may have moved the head in the buffer.
  build_request();
  dispatch();
}

template <bool body_unread>
void session::dispatch() {
  auto& b = *b_;
  const bool upgrade = b.parser.upgrade_or_connect();
  framing_.keep_alive = b.parser.keep_alive() && !upgrade && !body_unread;
  framing_.head_request = b.parser.method() == "HEAD";
  framing_.http10 = b.parser.minor() == 0;
  if (!head_passed_) b.res.reset();
  b.record_method = b.req.method();
  b.record_target = b.req.target();
  answer_ = answer::direct;
  state_ = state::dispatching;
  if (!body_unread && upgrade && try_upgrade()) return;
  try {
    dispatcher_.handle(b.req, b.res, b.route);
  } catch (const std::exception& e) {
    handler_failed(e.what(), &e);
  } catch (...) {
    handler_failed("an exception not derived from std::exception");
  }
  if (state_ != state::dispatching) return;  // it became a stream (or one that was cut)
  switch (answer_) {
    case answer::deferred:
      state_ = state::awaiting;
      keep_record();
      return;
    case answer::direct:
    case answer::finished:
      finish_response(b.route.target != nullptr ? origin::handler : origin::hive);
      return;
    case answer::failed:
      finish_response(origin::hive);
      return;
  }
}

template void session::dispatch<false>();
template void session::dispatch<true>();

// The response outlives the handler's call while the connection keeps reading, which may move
// or overwrite the request's bytes: the finished record keeps copies of what it names.
void session::keep_record() {
  auto& b = *b_;
  b.pending_method.assign(b.record_method);
  b.pending_target.assign(b.record_target);
  b.record_method = b.pending_method;
  b.record_target = b.pending_target;
  // Filters' after() sees the request when the answer is finished: its head is copied too.
  if (dispatcher_.filters_before_send()) keep_head();
}

void session::keep_head() {
  auto& b = *b_;
  const char* from = in_.data.get() + b.parser.message_start();
  const std::size_t len = b.parser.head_end() - b.parser.message_start();
  b.pending_head.assign(from, len);
  request_builder::rebase(b.req, b, from, len, b.pending_head.data());
}

// An upgrade request: the application may switch the connection to another protocol.
bool session::try_upgrade() {
  auto& b = *b_;
  // RFC 9110 §7.8: Upgrade in an HTTP/1.0 request is ignored; CONNECT is not an upgrade.
  // Draining: the connection closes after this answer, so it is answered as HTTP.
  if (framing_.http10 || draining_ || b.parser.method() == "CONNECT") return false;
  std::unique_ptr<protocol> next;
  // The 101 is hive's to send: defer() and stream() on it throw (and become a 500).
  b.link.owner = nullptr;
  try {
    next = dispatcher_.upgrade(b.req, b.res, b.route);
  } catch (const std::exception& e) {
    handler_failed(e.what(), &e);  // an http_error (a refused WebSocket upgrade) keeps its status
  } catch (...) {
    handler_failed("an exception not derived from std::exception");
  }
  b.link.owner = this;
  if (answer_ == answer::failed) {
    finish_response(origin::hive);
    return true;
  }
  if (!next) {
    b.res.reset();
    return false;
  }
  report_finished(origin::handler, serialize_switching(b.out, cfg_.date->fields(), b.res), 101);
  b_->successor = std::move(next);
  state_ = state::switching;
  return true;
}

std::unique_ptr<protocol> session::successor() {
  if (state_ != state::switching) return nullptr;
  auto next = std::move(b_->successor);
  state_ = state::handed_off;
  // The bytes read past the request are the new protocol's first.
  if (in_) {
    std::string_view rest(in_.data.get() + parsed_, in_.len - parsed_);
    while (!rest.empty()) {
      auto into = next->prepare();
      if (into.empty()) break;  // against the contract (protocol.hpp): never spin on it
      const std::size_t n = std::min(into.size(), rest.size());
      std::memcpy(into.data(), rest.data(), n);
      next->commit(n);
      rest.remove_prefix(n);
    }
  }
  // The client's EOF was read already: the connection will not see it again.
  if (eof_) next->on_eof();
  release_all();
  return next;
}

void session::handler_failed(std::string_view what, const std::exception* e) {
  if (auto s = b_->deferred.lock()) {
    s->done = true;  // the handle the handler may still hold must not answer a second time
    s->owner = nullptr;
    s->on_close = nullptr;
  }
  b_->deferred.reset();
  const std::string_view method = b_->req.method(), path = b_->req.path();
  switch (state_) {
    case state::dispatching:
      answer_ = answer::failed;
      // hive::http_error: an answer the application chose (its status and message).
      if (e != nullptr && dispatcher_.answer_exception(*e, &b_->route, b_->res)) return;
      warn("handler for ", method, ' ', path, " threw: ", what, "; answered 500");
      answer_500();
      return;
    case state::streaming:
      // The head is out: no 500 can follow it. The body is cut, so the client sees it incomplete.
      warn("handler for ", method, ' ', path, " threw: ", what, "; its streamed body is cut");
      if (auto s = b_->stream.lock()) {
        s->owner = nullptr;
        s->on_drain = nullptr;
        s->on_close = nullptr;
      }
      b_->stream.reset();
      report_finished(origin::handler, b_->stream_bytes, b_->stream_status);
      close_after(false);
      return;
    default:
      // Its stream ended, or was cut as its last handle went with the unwinding: answered.
      warn("handler for ", method, ' ', path, " threw: ", what, "; its streamed answer had already ended or been cut");
      return;
  }
}

void session::answer_500() {
  const bool close = b_->res.closes();
  dispatcher_.hive_answer(500, nullptr, b_->res);
  if (close) b_->res.header("Connection", "close");
}

// The one place every response leaves through (a streamed one leaves through stream_end).
void session::finish_response(origin by) {
  auto& b = *b_;
  // Draining: every complete request already received is answered; the answer to the last one
  // says close (a partial one behind it is answered if it completes within the drain's grace).
  if (dispatcher_.filters_before_send()) [[unlikely]] run_afters();
  const bool close = !framing_.keep_alive || b.res.closes() || (draining_ && !unread_input());
  response_head h;
  h.common = cfg_.date->fields();
  h.close = close;
  h.keep_alive_10 = framing_.http10 && !close;
  h.head_request = framing_.head_request;
  report_finished(by, serialize(b.out, h, b.res));
  state_ = close ? state::closing : state::reading;
}

[[gnu::always_inline]] inline void session::report_finished(origin by, std::uint64_t bytes_out, int status) {
  const auto& b = *b_;
  finished_record rec;
  rec.bytes_out = bytes_out;
  rec.status = status != 0 ? status : b.res.status();
  rec.by = by;
  rec.bytes_in = b.message_bytes;
  rec.start_ms = b.message_start_ms;
  rec.end_ms = now();
  rec.peer = peer_;
  rec.method = b.record_method;
  rec.target = b.record_target;
  dispatcher_.finished(rec);
}

void session::reject(error e) {
  if (state_ == state::receiving) [[unlikely]] cut_body();
  auto& b = buffers();
  // What was received of the refused message counts as its bytes; nothing after it is read.
  if (in_) b_->message_bytes += in_.len - parsed_;
  // Nothing of the refused request is trusted: not its method, not its target.
  b.req = request();
  request_builder::bind(b.req, b, peer_, cfg_.trusted_proxies);  // its peer is still known
  b.record_method = {};
  b.record_target = {};
  framing_ = {false, false, false, false};
  b.res.reset();
  dispatcher_.hive_answer(status_of(e), nullptr, b.res);
  unrouted_ = true;  // nothing of it is trusted: only the app's filters apply
  finish_response(origin::hive);
  close_after(true);
}

void session::close_after(bool linger) {
  state_ = state::closing;
  linger_ = linger;
}

void session::compact() {
  char* base = in_.data.get();
  switch (parser_phase()) {
    case request_parser::state::idle: {
      const std::size_t rest = in_.len - parsed_;
      std::memmove(base, base + parsed_, rest);
      in_.len = rest;
      parsed_ = 0;
      break;
    }
    case request_parser::state::head: {
      const std::size_t start = b_->parser.message_start();
      std::memmove(base, base + start, in_.len - start);
      in_.len -= start;
      parsed_ -= start;
      b_->parser.rebase(start, parsed_);
      break;
    }
    case request_parser::state::body: {
      // Keep the head (the request's views point into it) and what is not parsed yet; body
      // bytes already parsed were copied into the body buffer.
      const std::size_t start = b_->parser.message_start();
      const std::size_t head = b_->parser.head_end() - start;
      std::memmove(base, base + start, head);
      const std::size_t rest = in_.len - parsed_;
      std::memmove(base + head, base + parsed_, rest);
      in_.len = head + rest;
      parsed_ = head;
      b_->parser.rebase(start, parsed_);
      break;
    }
  }
}

void session::release_if_idle() {
  switch (state_) {
    case state::reading:
    case state::closing:
      break;
    case state::awaiting:
    case state::streaming:
      // A held response may last for hours (an event stream): meanwhile the connection keeps no
      // empty input buffer (10,000 streams would hold 10,000 of them), and a read borrows one.
      if (in_ && in_.len == 0) inputs_.give(std::move(in_));
      return;
    case state::dispatching:
    case state::receiving:
    case state::switching:  // the successor takes what was read past the request
    case state::handed_off:
      return;
  }
  if (parser_phase() != request_parser::state::idle) return;
  if (in_ && in_.len == 0) inputs_.give(std::move(in_));
  if (b_ && b_->out.empty() && !in_) give_buffers();
}

bool session::accepts_held_input() const {
  // A held response: keep reading, so that the client's going away is seen, but buffer no more
  // than one header section's worth of what it pipelines meanwhile.
  return !eof_ && (!in_ || in_.len - parsed_ < cfg_.limits.max_header_bytes);
}

void session::drain() {
  draining_ = true;
  if (state_ != state::streaming) return;
  if (auto s = b_->stream.lock()) s->stop();  // user code, from the loop
}

void session::timeout() {
  if (state_ == state::receiving) {
    reject(error::body_timeout);  // no body bytes for body_timeout
    return;
  }
  if (state_ == state::reading) {
    switch (parser_phase()) {
      case request_parser::state::head: reject(error::header_timeout); return;
      case request_parser::state::body: reject(error::body_timeout); return;
      case request_parser::state::idle: break;
    }
  }
  state_ = state::closing;
}

response* session::deferred_target() {
  return b_ && (state_ == state::dispatching || state_ == state::awaiting || state_ == state::receiving)
             ? &b_->res
             : nullptr;
}

std::shared_ptr<deferred_state> session::make_deferred() {
  if (!b_ || (state_ != state::dispatching && state_ != state::awaiting) || answer_ == answer::finished ||
      answer_ == answer::failed) {
    throw std::logic_error("hive: defer() on a response that was already sent");
  }
  // One handle per response: a second defer() (or one inside finish()) returns the same, so no
  // handle ever goes untracked by the session that owns the response.
  if (auto live = b_->deferred.lock(); live && !live->done) return live;
  auto s = std::make_shared<deferred_state>();
  s->owner = this;
  b_->deferred = s;
  if (answer_ == answer::direct) answer_ = answer::deferred;
  return s;
}

void session::complete_deferred(bool failed) {
  if (!b_) return;
  b_->deferred.reset();
  if (state_ == state::streaming) return;  // the response became a stream: it ends with it
  if (failed) {
    answer_500();
    answer_ = answer::failed;  // a handle dropped unfinished: hive's 500, wherever it happened
  }
  if (state_ == state::dispatching) {
    if (answer_ != answer::failed) answer_ = answer::finished;
    return;
  }
  if (state_ == state::receiving) {
    answer_early(failed);
    return;
  }
  if (state_ != state::awaiting) return;
  finish_response(answer_ == answer::failed ? origin::hive : origin::handler);
  // No process() here: this runs inside the user's finish() or a handle's destructor, and the
  // next pipelined request's handler must not run under the user's feet. The connection comes
  // back from its loop (resume()).
  wake();
}

std::shared_ptr<stream_state> session::make_stream() {
  if (!b_ || (state_ != state::dispatching && state_ != state::awaiting) || answer_ == answer::finished ||
      answer_ == answer::failed) {
    throw std::logic_error("hive: stream() on a response that was already sent");
  }
  // A deferred handle taken for this response is spent: the stream answers from now on.
  if (auto d = b_->deferred.lock()) {
    d->done = true;
    d->owner = nullptr;
    d->on_close = nullptr;
  }
  b_->deferred.reset();
  auto s = std::make_shared<stream_state>();
  s->owner = this;
  s->stopping = draining_;  // started during a graceful stop: on_stop runs as it is set
  b_->stream = s;
  const bool in_handler = state_ == state::dispatching;
  if (in_handler) keep_record();  // a deferred answer's are kept already
  start_stream();
  if (!in_handler) wake();
  return s;
}

void session::start_stream() {
  auto& b = *b_;
  if (dispatcher_.filters_before_send()) run_afters();
  const int status = b.res.status();
  b_->stream_status = status;  // what the head said, whatever the handler does to `res` later
  const bool bodiless = status == 204 || status == 304 || framing_.head_request;
  // HTTP/1.1 gets chunks; a 1.0 client learns the end from the close.
  framing_.chunked = !framing_.http10 && !bodiless;
  const bool close = !framing_.keep_alive || b.res.closes() || (draining_ && !unread_input()) ||
                     (framing_.http10 && !bodiless);
  response_head h;
  h.common = cfg_.date->fields();
  h.close = close;
  h.keep_alive_10 = framing_.http10 && !close;
  h.head_request = framing_.head_request;
  h.chunked = framing_.chunked;
  framing_.keep_alive = !close;
  b_->stream_bytes = serialize_stream_head(b.out, h, b.res);
  // Parts of a bodiless response are dropped: it ends as soon as its head is out.
  framing_.head_request = bodiless;
  state_ = state::streaming;
}

bool session::stream_write(std::string_view part) {
  if (state_ != state::streaming || !b_) return false;
  auto& out = b_->out;
  if (!part.empty() && !framing_.head_request) {
    if (framing_.chunked) {
      // chunk = chunk-size CRLF chunk-data CRLF (RFC 9112 §7.1); an empty one would end the body.
      char size[24];
      const auto end = std::to_chars(size, size + sizeof size, part.size(), 16).ptr;
      const std::size_t size_len = static_cast<std::size_t>(end - size);
      char* p = out.append_space(size_len + 2 + part.size() + 2);
      std::memcpy(p, size, size_len);
      p += size_len;
      std::memcpy(p, "\r\n", 2);
      std::memcpy(p + 2, part.data(), part.size());
      std::memcpy(p + 2 + part.size(), "\r\n", 2);
      b_->stream_bytes += size_len + part.size() + 4;
    } else {
      out.append(part);
      b_->stream_bytes += part.size();
    }
    wake();
  }
  return out.bytes() < stream_high_water;
}

void session::stream_end(bool complete, std::string_view trailers) {
  if (state_ != state::streaming || !b_) return;
  b_->stream.reset();
  if (complete && framing_.chunked) {
    // The last chunk, its trailer section, the blank line (RFC 9112 §7.1.2). HTTP/1.0 has no
    // place for trailers: they are dropped there.
    b_->out.append("0\r\n");
    b_->out.append(trailers);
    b_->out.append("\r\n");
    b_->stream_bytes += 5 + trailers.size();
  }
  report_finished(origin::handler, b_->stream_bytes, b_->stream_status);
  if (!complete) {
    close_after(false);  // cut: the missing last chunk tells the client the body is incomplete
  } else {
    const bool close = !framing_.keep_alive || (draining_ && !unread_input());
    state_ = close ? state::closing : state::reading;
  }
  wake();
}

}  // namespace hive::detail

#include "http/session.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

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
  static void build(request& r, const request_parser& p, const input_buffer& in, conn_buffers& b,
                    std::string_view path, std::string_view query, const address* peer,
                    const cidr_set* trusted) {
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
    if (peer != nullptr) r.remote_ = peer;
    r.trusted_ = trusted;
    r.scratch_ = &b.scratch;
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
  give_buffers();
}

conn_buffers& session::buffers() {
  if (!b_) {
    b_ = pool_.take();
    b_->link.owner = this;
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
  // A half-sent request will never complete: close once the answers so far are written.
  if (!deferred_pending_) closing_ = true;
}

void session::peer_gone() {
  eof_ = true;
  closing_ = true;
  if (!b_) return;
  if (auto s = b_->deferred.lock()) s->abandon();  // pending() is false from now on
  b_->deferred.reset();
  deferred_pending_ = false;
  b_->out.clear();
}

void session::consume(std::size_t n) {
  if (!b_) return;
  b_->out.consume(n);
  if (!b_->out.empty()) return;
  process();  // requests held back by the output cap, if any
}

session::phase session::current_phase() const {
  if (closing_) return phase::closing;
  if (deferred_pending_) return phase::handling;
  switch (parser_phase()) {
    case request_parser::state::head: return phase::head;
    case request_parser::state::body: return phase::body;
    case request_parser::state::idle: break;
  }
  return phase::idle;
}


void session::process() {
  if (!in_) {
    release_if_idle();
    return;
  }
  while (!closing_ && !deferred_pending_ && parsed_ < in_.len &&
         (!b_ || b_->out.bytes() < max_queued_output)) {
    conn_buffers& b = buffers();
    if (b.parser.phase() == request_parser::state::idle) {
      b.message_bytes = 0;
      b.message_start_ms = now();
    }
    const std::size_t before = parsed_;
    const auto r = b.parser.execute(in_, b, parsed_);
    parsed_ = b_->parser.parsed();
    b_->message_bytes += parsed_ - before;
    if (r == request_parser::result::need_more) break;
    if (r == request_parser::result::head_done) {
      route_head();
    } else if (r == request_parser::result::message_done) {
      handle_message();
    } else {
      reject(b_->parser.failure());
    }
  }
  if (parsed_ == in_.len && parser_phase() == request_parser::state::idle) {
    in_.len = 0;
    parsed_ = 0;
  }
  release_if_idle();
}

void session::start_response() {
  routed_ = true;
  auto& b = *b_;
  const std::string_view target(in_.data.get() + b_->parser.target().off, b_->parser.target().len);
  const auto [path, query] = split_target(target);
  // Kept as offsets into the target: reading the body may move the head in the buffer.
  b.path = {static_cast<std::uint32_t>(path.data() - target.data()), static_cast<std::uint32_t>(path.size())};
  b.query = {query.empty() ? 0 : static_cast<std::uint32_t>(query.data() - target.data()),
            static_cast<std::uint32_t>(query.size())};
  dispatcher_.route(b_->parser.method(), path, b.route);
}

void session::route_head() {
  start_response();
  if (!b_->parser.expects_continue()) return;
  if (b_->route.target == nullptr) {
    // Do not invite a body nobody will read: answer now and close (RFC 9110 §10.1.1).
    keep_alive_ = false;
    head_request_ = b_->parser.method() == "HEAD";
    http10_ = false;
    b_->res.reset();
    b_->record_method = b_->parser.method();
    b_->record_target = {in_.data.get() + b_->parser.target().off, b_->parser.target().len};
    dispatcher_.hive_answer(b_->route.status, &b_->route, b_->res);
    finish_response(origin::hive);
    closing_ = true;
    linger_ = true;
    return;
  }
  serialize_continue(b_->out);
}

void session::handle_message() {
  if (!routed_) start_response();
  routed_ = false;
  // Built now, not at head_done: reading the body may have moved the head in the buffer.
  auto& b = *b_;
  const char* target = in_.data.get() + b_->parser.target().off;
  request_builder::build(b.req, b.parser, in_, b, {target + b.path.off, b.path.len},
                         {target + b.query.off, b.query.len}, peer_, cfg_.trusted_proxies);
  dispatch();
}

void session::dispatch() {
  keep_alive_ = b_->parser.keep_alive() && !b_->parser.upgrade_or_connect();
  head_request_ = b_->parser.method() == "HEAD";
  http10_ = b_->parser.minor() == 0;
  auto& b = *b_;
  b.res.reset();
  b.record_method = b.req.method();
  b.record_target = b.req.target();
  deferred_taken_ = false;
  handler_failed_ = false;
  in_dispatch_ = true;
  finished_inline_ = false;
  try {
    dispatcher_.handle(b.req, b.res, b.route);
  } catch (const std::exception& e) {
    handler_failed(e.what());
  } catch (...) {
    handler_failed("an exception not derived from std::exception");
  }
  in_dispatch_ = false;
  if (deferred_taken_ && !finished_inline_) {
    deferred_pending_ = true;
    // The request's bytes may move while the answer is pending (the connection keeps reading):
    // the finished record keeps copies.
    b.pending_method.assign(b.req.method());
    b.pending_target.assign(b.req.target());
    b.record_method = b.pending_method;
    b.record_target = b.pending_target;
    return;
  }
  finish_response(b.route.target != nullptr && !handler_failed_ ? origin::handler : origin::hive);
}

void session::handler_failed(std::string_view what) {
  std::string line = "hive ";
  line += std::to_string(::getpid());
  line += ": handler for ";
  line += b_->req.method();
  line += ' ';
  line += b_->req.path();
  line += " threw: ";
  line += what;
  line += "; answered 500";
  log_line(line);
  if (auto s = b_->deferred.lock()) {
    s->done = true;  // the handle the handler may still hold must not answer a second time
    s->owner = nullptr;
    s->on_close = nullptr;
  }
  b_->deferred.reset();
  deferred_taken_ = false;
  handler_failed_ = true;
  answer_500();
}

void session::answer_500() {
  const bool close = b_->res.closes();
  dispatcher_.hive_answer(500, nullptr, b_->res);
  if (close) b_->res.header("Connection", "close");
}

// The one place every response leaves through.
void session::finish_response(origin by) {
  auto& b = *b_;
  // Draining: every complete request already received is answered; the answer to the last one
  // says close (a partial one behind it is answered if it completes within the drain's grace).
  const bool close = !keep_alive_ || b.res.closes() || (draining_ && !unread_input());
  response_head h;
  h.common = cfg_.date->fields();
  h.close = close;
  h.keep_alive_10 = http10_ && !close;
  h.head_request = head_request_;
  finished_record rec;
  rec.bytes_out = serialize(b.out, h, b.res);
  rec.status = b.res.status();
  rec.by = by;
  rec.bytes_in = b_->message_bytes;
  rec.start_ms = b_->message_start_ms;
  rec.end_ms = now();
  rec.peer = peer_;
  rec.method = b.record_method;
  rec.target = b.record_target;
  dispatcher_.finished(rec);
  if (close) closing_ = true;
}

void session::reject(error e) {
  auto& b = buffers();
  // What was received of the refused message counts as its bytes; nothing after it is read.
  if (in_) b_->message_bytes += in_.len - parsed_;
  // Nothing of the refused request is trusted: not its method, not its target.
  b.req = request();
  b.record_method = {};
  b.record_target = {};
  keep_alive_ = false;
  head_request_ = false;
  http10_ = false;
  b.res.reset();
  dispatcher_.hive_answer(status_of(e), nullptr, b.res);
  finish_response(origin::hive);
  closing_ = true;
  linger_ = true;
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
  if (deferred_pending_ || in_dispatch_ || parser_phase() != request_parser::state::idle) return;
  if (in_ && in_.len == 0) inputs_.give(std::move(in_));
  if (b_ && b_->out.empty() && !in_) give_buffers();
}

bool session::accepts_input() const {
  if (wants_read()) return true;
  // A deferred response holds the pipeline: keep reading, so that the client's going away is
  // seen, but buffer no more than one header section's worth of what it pipelines meanwhile.
  return deferred_pending_ && !eof_ && !closing_ &&
         (!in_ || in_.len - parsed_ < cfg_.limits.max_header_bytes);
}

void session::timeout() {
  switch (current_phase()) {
    case phase::head: reject(error::header_timeout); break;
    case phase::body: reject(error::body_timeout); break;
    default: closing_ = true; break;
  }
}

void session::drain() { draining_ = true; }

bool session::unread_input() const { return in_ && parsed_ < in_.len; }

response* session::deferred_target() { return b_ ? &b_->res : nullptr; }

std::shared_ptr<deferred_state> session::make_deferred() {
  if (!b_ || !(in_dispatch_ || deferred_pending_) || finished_inline_) {
    throw std::logic_error("hive: defer() on a response that was already sent");
  }
  // One handle per response: a second defer() (or one inside finish()) returns the same, so no
  // handle ever goes untracked by the session that owns the response.
  if (auto live = b_->deferred.lock(); live && !live->done) return live;
  auto s = std::make_shared<deferred_state>();
  s->owner = this;
  b_->deferred = s;
  deferred_taken_ = true;
  return s;
}

void session::complete_deferred(bool failed) {
  if (!b_) return;
  b_->deferred.reset();
  if (failed) {
    answer_500();
    handler_failed_ = true;  // a handle dropped unfinished: hive's 500, wherever it happened
  }
  if (in_dispatch_) {
    finished_inline_ = true;
    return;
  }
  if (!deferred_pending_) return;
  deferred_pending_ = false;
  finish_response(handler_failed_ ? origin::hive : origin::handler);
  // No process() here: this runs inside the user's finish() or a handle's destructor, and the
  // next pipelined request's handler must not run under the user's feet. Requests held back
  // resume once this response is written (consume() processes them).
  if (wake_ != nullptr) wake_(wake_ctx_);
}

}  // namespace hive::detail

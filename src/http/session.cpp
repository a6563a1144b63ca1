#include "http/session.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include "http/date_cache.hpp"
#include "http/serializer.hpp"
#include "http/status.hpp"
#include "util/text.hpp"
#include "util/counters.hpp"
#include "util/log.hpp"

namespace hive::detail {

namespace {
// Reads smaller than this are not worth a syscall: compact or grow first.
constexpr std::size_t min_read_bytes = 4096;
// Output queued past this stops the handling of further pipelined requests until the client
// reads: a client that pipelines and never reads cannot make the worker buffer without bound.
constexpr std::size_t max_queued_output = 1024 * 1024;
}  // namespace

// Fills hive::request from the parser's spans; the one place that knows request's layout.
struct request_builder {
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
    r.params_ = b.params;
    r.body_ = b.body;
  }
};

namespace {
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

deferred_state::~deferred_state() {
  if (!done && owner != nullptr) owner->complete_deferred(true);
}

session::session(const router& r, const session_config& cfg, buffer_pool& pool, input_pool& inputs)
    : router_(r), cfg_(cfg), pool_(pool), inputs_(inputs), parser_(cfg.limits) {}

session::~session() { release_all(); }

void session::release_all() {
  if (in_) inputs_.give(std::move(in_));
  in_ = {};
  parsed_ = 0;
  if (!b_) return;
  if (auto s = b_->deferred.lock()) s->owner = nullptr;
  pool_.give(std::move(b_));
}

conn_buffers& session::buffers() {
  if (!b_) b_ = pool_.take();
  return *b_;
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
  if (cfg_.stats != nullptr) cfg_.stats->add(cfg_.stats->bytes_in, n);
  process();
}

void session::adopt(input_buffer b, std::size_t n) {
  if (in_) inputs_.give(std::move(in_));
  in_ = std::move(b);
  in_.len = 0;
  commit(n);
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

void session::consume(std::size_t n) {
  if (!b_) return;
  b_->out.consume(n);
  if (cfg_.stats != nullptr) cfg_.stats->add(cfg_.stats->bytes_out, n);
  if (!b_->out.empty()) return;
  process();  // requests held back by the output cap, if any
}

session::phase session::current_phase() const {
  if (closing_) return phase::closing;
  if (deferred_pending_) return phase::handling;
  switch (parser_.phase()) {
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
    const auto r = parser_.execute(in_, buffers(), parsed_);
    parsed_ = parser_.parsed();
    if (r == request_parser::result::need_more) break;
    if (r == request_parser::result::head_done) {
      route_head();
    } else if (r == request_parser::result::message_done) {
      handle_message();
    } else {
      reject(parser_.failure());
    }
  }
  if (parsed_ == in_.len && parser_.phase() == request_parser::state::idle) {
    in_.len = 0;
    parsed_ = 0;
  }
  release_if_idle();
}

void session::start_response() {
  routed_ = true;
  auto& b = *b_;
  const std::string_view target(in_.data.get() + parser_.target().off, parser_.target().len);
  const auto [path, query] = split_target(target);
  b.params.clear();
  if (target == "*") {
    // OPTIONS * (the parser refuses `*` with any other method): a server-wide "ping".
    b_->route = router::match{nullptr, 200, {}};
  } else {
    b.param_scratch.clear();
    b.param_scratch.reserve(path.size());
    b_->route = router_.find(parser_.method(), path, b.param_scratch, b.params);
  }
}

void session::route_head() {
  start_response();
  if (!parser_.expects_continue()) return;
  if (b_->route.target == nullptr) {
    // Do not invite a body nobody will read: answer now and close (RFC 9110 §10.1.1).
    keep_alive_ = false;
    head_request_ = parser_.method() == "HEAD";
    http10_ = false;
    reset_response();
    route_error();
    finish_response();
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
  const std::string_view target(in_.data.get() + parser_.target().off, parser_.target().len);
  const auto [path, query] = split_target(target);
  request_builder::build(b_->req, parser_, in_, b, path, query);
  dispatch();
}

void session::reset_response() {
  auto& b = *b_;
  b.res_headers.clear();
  b.res_body.clear();
  b.res_type.clear();
  b_->res.status_ = 200;
  b_->res.close_ = false;
  b_->res.deferred_ = false;
  b_->res.headers_ = &b.res_headers;
  b_->res.body_ = &b.res_body;
  b_->res.type_ = &b.res_type;
  b_->res.session_ = this;
}

void session::route_error() {
  if (b_->route.status == 405) {
    b_->res.status(405).header("Allow", b_->route.allow);
    b_->res.text("Method Not Allowed\n");
  } else if (b_->route.status == 404) {
    b_->res.status(404).text("Not Found\n");
  } else {
    b_->res.status(b_->route.status);
  }
}

void session::dispatch() {
  keep_alive_ = parser_.keep_alive() && !parser_.upgrade_or_connect();
  head_request_ = parser_.method() == "HEAD";
  http10_ = parser_.minor() == 0;
  reset_response();
  if (cfg_.stats != nullptr) cfg_.stats->add(cfg_.stats->requests);
  if (b_->route.target == nullptr) {
    route_error();
    finish_response();
    return;
  }
  in_dispatch_ = true;
  finished_inline_ = false;
  try {
    (*b_->route.target)(b_->req, b_->res);
  } catch (const std::exception& e) {
    handler_failed(e.what());
  } catch (...) {
    handler_failed("an exception not derived from std::exception");
  }
  in_dispatch_ = false;
  if (b_->res.deferred_ && !finished_inline_) {
    deferred_pending_ = true;
    return;
  }
  finish_response();
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
  }
  b_->deferred.reset();
  answer_500();
}

void session::answer_500() {
  const bool close = b_->res.close_;
  reset_response();
  b_->res.close_ = close;
  b_->res.status(500).text("Internal Server Error\n");
}

void session::finish_response() {
  auto& b = *b_;
  const bool close = !keep_alive_ || b_->res.close_ || draining_;
  response_head h;
  h.status = b_->res.status_;
  h.common = cfg_.date->fields();
  h.content_type = b.res_type;
  h.fields = b.res_headers;
  h.close = close;
  h.keep_alive_10 = http10_ && !close;
  h.head_request = head_request_;
  serialize(b.out, h, b.res_body);
  if (cfg_.stats != nullptr) cfg_.stats->add(cfg_.stats->responses[std::clamp(h.status / 100, 1, 5)]);
  if (close) closing_ = true;
}

void session::reject(error e) {
  const int status = status_of(e);
  std::string_view phrase = reason_phrase(status);
  auto& b = buffers();
  b.res_body.assign(phrase);
  b.res_body.push_back('\n');
  response_head h;
  h.status = status;
  h.common = cfg_.date->fields();
  h.content_type = "text/plain; charset=utf-8";
  h.close = true;
  serialize(b.out, h, b.res_body);
  if (cfg_.stats != nullptr) cfg_.stats->add(cfg_.stats->responses[status / 100]);
  closing_ = true;
  linger_ = true;
}

void session::compact() {
  char* base = in_.data.get();
  switch (parser_.phase()) {
    case request_parser::state::idle: {
      const std::size_t rest = in_.len - parsed_;
      std::memmove(base, base + parsed_, rest);
      in_.len = rest;
      parsed_ = 0;
      break;
    }
    case request_parser::state::head: {
      const std::size_t start = parser_.message_start();
      std::memmove(base, base + start, in_.len - start);
      in_.len -= start;
      parsed_ -= start;
      parser_.rebase(start, parsed_);
      break;
    }
    case request_parser::state::body: {
      // Keep the head (the request's views point into it) and what is not parsed yet; body
      // bytes already parsed were copied into the body buffer.
      const std::size_t start = parser_.message_start();
      const std::size_t head = parser_.head_end() - start;
      std::memmove(base, base + start, head);
      const std::size_t rest = in_.len - parsed_;
      std::memmove(base + head, base + parsed_, rest);
      in_.len = head + rest;
      parsed_ = head;
      parser_.rebase(start, parsed_);
      break;
    }
  }
}

void session::release_if_idle() {
  if (deferred_pending_ || in_dispatch_ || parser_.phase() != request_parser::state::idle) return;
  if (in_ && in_.len == 0) inputs_.give(std::move(in_));
  if (b_ && b_->out.empty() && !in_) pool_.give(std::move(b_));
}

bool session::accepts_input() const {
  if (wants_read()) return true;
  // A deferred response holds the pipeline: keep reading, so that the client's going away is
  // seen, but buffer no more than one header section's worth of what it pipelines meanwhile.
  return deferred_pending_ && !eof_ && !closing_ &&
         (!in_ || in_.len - parsed_ < cfg_.limits.max_header_bytes);
}

void session::peer_gone() {
  eof_ = true;
  closing_ = true;
  if (!b_) return;
  if (auto s = b_->deferred.lock()) s->owner = nullptr;  // pending() is false from now on
  b_->deferred.reset();
  deferred_pending_ = false;
  b_->out.clear();
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
  b_->res.deferred_ = true;
  return s;
}

void session::complete_deferred(bool failed) {
  if (!b_) return;
  b_->deferred.reset();
  if (failed) answer_500();
  if (in_dispatch_) {
    finished_inline_ = true;
    return;
  }
  if (!deferred_pending_) return;
  deferred_pending_ = false;
  finish_response();
  // No process() here: this runs inside the user's finish() or a handle's destructor, and the
  // next pipelined request's handler must not run under the user's feet. Requests held back
  // resume once this response is written (consume() processes them).
  if (wake_ != nullptr) wake_(wake_ctx_);
}

}  // namespace hive::detail

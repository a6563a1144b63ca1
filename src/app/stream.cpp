#include "hive/stream.hpp"

#include <stdexcept>
#include <string>

#include "app/coding/body_coder.hpp"
#include "app/response_access.hpp"
#include "app/stream_state.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

namespace hive {

namespace {
// A coded stream's part: what the coder made of it. Empty parts stay empty (nothing to flush).
// A coder that fails (no memory) cannot go on: the stream is cut.
bool code_part(detail::stream_state& s, std::string_view& part, bool last) {
  if (part.empty() && !last) return true;
  s.coded.clear();
  if (!s.coder->code(part, last, s.coded)) return false;
  part = s.coded;
  return true;
}
}  // namespace

bool stream::write(std::string_view part) {
  if (!state_ || state_->owner == nullptr) return false;
  if (state_->coder && !code_part(*state_, part, false)) [[unlikely]] {
    detail::warn("a streamed body could not be coded (out of memory); it is cut");
    auto* owner = state_->owner;
    state_->owner = nullptr;
    owner->stream_end(false, {});
    return false;
  }
  if (state_->owner->stream_write(part)) return true;
  state_->behind = true;
  return false;
}

void stream::end() { end({}); }

void stream::end(std::initializer_list<trailer> trailers) {
  if (!state_ || state_->owner == nullptr) return;
  std::string fields;
  for (const auto& t : trailers) {
    // Framing and routing fields mean nothing after the body (RFC 9110 §6.5.1): refused, like a
    // field that could split the message.
    if (!detail::is_token(t.name) || !detail::field_bytes_ok(t.value) || detail::iequals(t.name, "Content-Length") ||
        detail::iequals(t.name, "Transfer-Encoding") || detail::iequals(t.name, "Trailer") ||
        detail::iequals(t.name, "Host") || detail::iequals(t.name, "Connection")) {
      throw std::invalid_argument("hive: a stream trailer '" + std::string(t.name) +
                                  "' is not a token, holds CR, LF or NUL, or is a framing field");
    }
    fields.append(t.name).append(": ").append(t.value).append("\r\n");
  }
  auto* owner = state_->owner;
  state_->owner = nullptr;
  state_->on_drain = nullptr;  // they may hold the handle: no cycle once ended
  state_->on_close = nullptr;
  state_->on_stop = nullptr;
  bool whole = true;
  if (state_->coder) {
    std::string_view tail;  // the coding's end
    whole = code_part(*state_, tail, true);
    if (whole) owner->stream_write(tail);
    state_->coder.reset();
  }
  owner->stream_end(whole, whole ? std::string_view(fields) : std::string_view());
}

bool stream::open() const { return state_ && state_->owner != nullptr; }

void stream::on_drain(std::function<void()> f) {
  if (open()) state_->on_drain = std::move(f);
}

void stream::on_close(std::function<void()> f) {
  if (!state_) return;
  if (state_->owner == nullptr) {
    if (state_->gone && f) f();  // already gone, as deferred::on_close does; ended: never
    return;
  }
  state_->on_close = std::move(f);
}

void stream::on_stop(std::function<void()> f) {
  if (!open() || !f) return;
  if (state_->stopping) {
    f();  // stopping already: the stream was started during the drain
    return;
  }
  state_->on_stop = std::move(f);
}

hive::stream response::stream(std::string_view content_type) {
  if (link_ == nullptr || link_->owner == nullptr) {
    throw std::logic_error("hive: stream() on a response that no connection is waiting for");
  }
  set_type(content_type, type_kind::octets);
  drop_body();
  bytes_.clear();
  kind_ = body_kind::stream;
  auto s = link_->owner->make_stream();  // runs the filters' after(): a coder may be set now
  if (coder_) s->coder = detail::response_access::take_coder(*this);
  return hive::stream(std::move(s));
}

namespace detail {

namespace {
// User code run from hive's own paths: what it throws is logged, never raised.
void run_callback(const std::function<void()>& f, const char* what) {
  try {
    f();
  } catch (const std::exception& e) {
    warn("a stream's ", what, " threw: ", e.what());
  } catch (...) {
    warn("a stream's ", what, " threw");
  }
}
}  // namespace

stream_state::~stream_state() {
  if (owner != nullptr) owner->stream_end(false, {});
}

void stream_state::abandon() {
  owner = nullptr;
  gone = true;
  on_drain = nullptr;
  on_stop = nullptr;
  auto f = std::move(on_close);
  on_close = nullptr;
  if (f) run_callback(f, "on_close");
}

void stream_state::stop() {
  if (stopping) return;
  stopping = true;
  if (owner == nullptr || !on_stop) return;
  auto f = std::move(on_stop);
  on_stop = nullptr;
  run_callback(f, "on_stop");
}

void stream_state::drained() {
  // Without a callback yet, the debt stands: the next drain pays it.
  if (!behind || owner == nullptr || !on_drain) return;
  behind = false;
  auto f = on_drain;  // a copy: the callback may replace itself
  run_callback(f, "on_drain");
}

}  // namespace detail

}  // namespace hive

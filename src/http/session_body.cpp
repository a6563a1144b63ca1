// The session's side of a stream_body route (hive::body_reader): the handler runs at the head,
// the body goes to its reader as it is parsed, and parsing stops while the reader is paused.
#include <memory>

#include "app/body_state.hpp"
#include "http/serializer.hpp"
#include "http/session.hpp"

namespace hive::detail {

// The head of a stream_body route is complete: its handler runs now.
void session::begin_body() {
  build_request_elsewhere();
  if (head_filters_answered()) return;
  dispatch<true>();
  if (state_ != state::awaiting) {
    // Answered without the body (401, 413, a failed handler), or a response stream started
    // before it: the body is not read, and the connection closes after the answer.
    if (auto body = std::move(b_->route.body)) body->finish(false);
    if (state_ == state::reading || state_ == state::closing) close_after(true);
    return;
  }
  state_ = state::receiving;
  // Invite the body only when the handler asked for it (RFC 9110 §10.1.1).
  if (b_->parser.expects_continue() && b_->route.body && b_->route.body->asked) serialize_continue(b_->out);
}

// A stream_body route's message is complete: its body ended (the handler ran at the head), or
// it had none (the handler runs now, and its reader ends at once).
void session::streamed_message_done() {
  if (state_ == state::receiving) {
    end_body();
    return;
  }
  routed_ = false;
  build_request_elsewhere();
  dispatch();
  if (b_ && b_->route.body) {
    auto body = std::move(b_->route.body);
    body->finish(true);
  }
}

// The streamed body is complete: the reader's on_end runs, then the answer goes out as any
// deferred one (it may be finished inside on_end).
void session::end_body() {
  routed_ = false;
  framing_.keep_alive = b_->parser.keep_alive();
  state_ = state::dispatching;
  b_->route.stream_body = false;  // no second reader from on_end
  if (auto body = std::move(b_->route.body)) body->finish(true);
  if (state_ != state::dispatching) return;  // it became a stream
  switch (answer_) {
    case answer::deferred:
      state_ = state::awaiting;
      return;
    case answer::direct:
    case answer::finished:
      finish_response(origin::handler);
      return;
    case answer::failed:
      finish_response(origin::hive);
      return;
  }
}

// The deferred answer was finished before the body ended: it goes out, and the connection closes
// after it rather than read a body nobody wants (RFC 9112 §9.6: the rest is read and discarded
// while the connection lingers).
void session::answer_early(bool failed) {
  if (auto body = std::move(b_->route.body)) body->finish(false);
  framing_.keep_alive = false;
  finish_response(failed ? origin::hive : origin::handler);
  close_after(true);
  wake();
}

// The body will not complete (too large, malformed, timed out): hive answers, so the handler's
// deferred answer is void and its reader ends incomplete.
void session::cut_body() {
  if (auto d = b_->deferred.lock()) d->abandon();
  b_->deferred.reset();
  if (auto body = std::move(b_->route.body)) body->finish(false);
}

std::shared_ptr<body_state> session::make_body_reader() {
  if (!b_ || !b_->route.stream_body || state_ != state::dispatching) return nullptr;
  if (!b_->route.body) {
    b_->route.body = std::make_shared<body_state>();
    b_->route.body->owner = this;
  }
  return b_->route.body;
}

void session::body_resume() {
  if (state_ == state::receiving) wake();  // parse again from the loop, not under the user's call
}

}  // namespace hive::detail

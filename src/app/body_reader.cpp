#include "hive/body_reader.hpp"

#include <stdexcept>

#include "app/body_state.hpp"
#include "app/responder.hpp"
#include "hive/request.hpp"
#include "util/log.hpp"

namespace hive {

void body_reader::on_data(std::function<void(std::string_view)> f) {
  if (!state_ || state_->ended) return;
  state_->asked = true;
  state_->on_data = std::move(f);
}

void body_reader::on_end(std::function<void(bool)> f) {
  if (!state_ || !f) return;
  if (state_->ended) {
    f(state_->complete);
    return;
  }
  state_->asked = true;
  state_->on_end = std::move(f);
}

void body_reader::pause() {
  if (state_ && !state_->ended) state_->paused = true;
}

void body_reader::resume() {
  if (!state_ || !state_->paused) return;
  state_->paused = false;
  if (state_->owner != nullptr) state_->owner->body_resume();
}

bool body_reader::paused() const { return state_ && state_->paused; }
std::uint64_t body_reader::received() const { return state_ ? state_->received : 0; }
bool body_reader::open() const { return state_ && !state_->ended; }

body_reader request::body_reader() const {
  if (link_ == nullptr || link_->owner == nullptr) {
    throw std::logic_error("hive: body_reader() on a request that no connection is reading");
  }
  auto s = link_->owner->make_body_reader();
  if (!s) {
    throw std::logic_error(
        "hive: body_reader() needs a route added with route_options::stream_body, called from its handler");
  }
  return hive::body_reader(std::move(s));
}

namespace detail {

bool body_state::deliver(std::string_view bytes) {
  if (ended) return false;
  received += bytes.size();
  if (on_data) {
    // on_data may answer the request (a 400 for a bad upload), which ends the body from inside
    // the call: finish() leaves the callback alone until it returns.
    delivering = true;
    try {
      on_data(bytes);
    } catch (const std::exception& e) {
      warn("a body reader's on_data threw: ", e.what(), "; the rest of the body is discarded");
      failed = true;
    } catch (...) {
      warn("a body reader's on_data threw; the rest of the body is discarded");
      failed = true;
    }
    delivering = false;
    if (failed || ended) on_data = nullptr;
  }
  return !paused && !ended;
}

void body_state::finish(bool whole) {
  if (ended) return;
  ended = true;
  whole = whole && !failed;
  complete = whole;
  owner = nullptr;
  paused = false;
  if (!delivering) on_data = nullptr;  // they may hold the handle: no cycle once ended
  auto f = std::move(on_end);
  on_end = nullptr;
  if (!f) return;
  try {
    f(whole);
  } catch (const std::exception& e) {
    warn("a body reader's on_end threw: ", e.what());
  } catch (...) {
    warn("a body reader's on_end threw");
  }
}

}  // namespace detail

}  // namespace hive

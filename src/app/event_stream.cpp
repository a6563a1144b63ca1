#include "hive/event_stream.hpp"

#include <stdexcept>
#include <string>

#include <asio/steady_timer.hpp>

#include "hive/worker.hpp"

namespace hive {

namespace {
// `event:` and `id:` values end at a line break; a NUL in an id makes browsers ignore it.
void check_field(std::string_view what, std::string_view value) {
  if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
    throw std::invalid_argument("hive: an event's " + std::string(what) + " holds CR, LF or NUL");
  }
}

// `data:` lines, one per line of `data` (a line break is CRLF, LF or CR).
void append_data(std::string& out, std::string_view data) {
  while (true) {
    const auto end = data.find_first_of("\r\n");
    out.append("data: ").append(data.substr(0, end)).append("\n");
    if (end == std::string_view::npos) return;
    const std::size_t skip = data[end] == '\r' && end + 1 < data.size() && data[end + 1] == '\n' ? 2 : 1;
    data.remove_prefix(end + skip);
  }
}
}  // namespace

// The stream and its heartbeat timer. The timer's callbacks hold it weakly: the handles decide
// how long the stream lives.
struct event_stream::state {
  hive::stream out;
  std::unique_ptr<asio::steady_timer> heartbeat;
  std::chrono::milliseconds every{0};
  bool sent_since_tick = false;
  std::string scratch;  // one event's text, reused

  ~state() {
    if (heartbeat) heartbeat->cancel();
  }

  void arm(const std::shared_ptr<state>& self) {
    heartbeat->expires_after(every);
    heartbeat->async_wait([weak = std::weak_ptr<state>(self)](const std::error_code& ec) {
      auto s = weak.lock();
      if (ec || !s || !s->out.open()) return;
      if (!s->sent_since_tick) s->out.write(":\n\n");
      s->sent_since_tick = false;
      s->arm(s);
    });
  }
};

event_stream::event_stream(response& res, options opts) : state_(std::make_shared<state>()) {
  // The timer first: if there is no loop to run it on, the handler fails before the head is out
  // and the client gets a 500 instead of a cut stream.
  if (opts.heartbeat.count() > 0) state_->heartbeat = std::make_unique<asio::steady_timer>(worker::io());
  res.header("Cache-Control", "no-cache");
  state_->out = res.stream("text/event-stream");
  if (opts.retry.count() > 0) state_->out.write("retry: " + std::to_string(opts.retry.count()) + "\n\n");
  // A graceful stop ends the stream cleanly: the browser reconnects, to a worker that stays.
  state_->out.on_stop([weak = std::weak_ptr<state>(state_)] {
    if (auto s = weak.lock()) {
      if (s->heartbeat) s->heartbeat->cancel();
      s->out.end();
    }
  });
  if (state_->heartbeat) {
    state_->every = opts.heartbeat;
    state_->arm(state_);
    state_->out.on_close([weak = std::weak_ptr<state>(state_)] {
      if (auto s = weak.lock(); s && s->heartbeat) s->heartbeat->cancel();
    });
  }
}

bool event_stream::send(std::string_view data, std::string_view event, std::string_view id) {
  if (!state_) return false;
  check_field("type", event);
  check_field("id", id);
  auto& text = state_->scratch;
  text.clear();
  if (!event.empty()) text.append("event: ").append(event).append("\n");
  if (!id.empty()) text.append("id: ").append(id).append("\n");
  append_data(text, data);
  text.append("\n");
  state_->sent_since_tick = true;
  return state_->out.write(text);
}

bool event_stream::comment(std::string_view text) {
  if (!state_) return false;
  auto& line = state_->scratch;
  line.clear();
  // A comment is one line: later lines of `text` become comments of their own.
  while (true) {
    const auto end = text.find_first_of("\r\n");
    line.append(": ").append(text.substr(0, end)).append("\n");
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  line.append("\n");
  return state_->out.write(line);
}

void event_stream::end() {
  if (!state_) return;
  if (state_->heartbeat) state_->heartbeat->cancel();
  state_->out.end();
}

bool event_stream::open() const { return state_ && state_->out.open(); }

void event_stream::on_drain(std::function<void()> f) {
  if (state_) state_->out.on_drain(std::move(f));
}

void event_stream::on_close(std::function<void()> f) {
  if (!state_) return;
  // Keep cancelling the heartbeat along with what the user asks.
  state_->out.on_close([weak = std::weak_ptr<state>(state_), f = std::move(f)] {
    if (auto s = weak.lock(); s && s->heartbeat) s->heartbeat->cancel();
    if (f) f();
  });
}

}  // namespace hive

// hive::event_stream — server-sent events (the `text/event-stream` format of the HTML standard)
// over a streamed response: each send() is one event the browser's EventSource receives.
//
//   app.get("/events", [](const hive::request& req, hive::response& res) {
//     auto events = hive::event_stream(res);            // heartbeat comment every 15 s
//     auto from = hive::event_stream::last_event_id(req); // a reconnecting client says where it was
//     events.send("hello", "greeting", "1");
//     keep(events);                                       // send more later, on this worker's loop
//   });
//
// A graceful stop of the worker (SIGTERM, a rolling reload) ends the stream cleanly, and the
// browser reconnects to a worker that stays. A handle, copyable; use it on the worker's loop that
// made it. Dropped without end(), the stream
// is cut (see hive::stream), so keep a copy for as long as events should flow.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>

#include "hive/request.hpp"
#include "hive/response.hpp"

namespace hive {

class event_stream {
 public:
  struct options {
    // A comment line sent when nothing else was for this long, so that proxies and browsers do
    // not time the stream out; zero sends none.
    std::chrono::milliseconds heartbeat{std::chrono::seconds(15)};
    // Sent first as `retry:` (how long a browser waits before reconnecting); zero sends none.
    std::chrono::milliseconds retry{0};
  };

  event_stream() = default;
  // Sets `Content-Type: text/event-stream` and `Cache-Control: no-cache`, then starts streaming
  // `res` (set other headers first). Throws as response::stream() does.
  explicit event_stream(response& res) : event_stream(res, options{}) {}
  event_stream(response& res, options opts);

  // One event: `data` split into `data:` lines at every line break (CRLF, LF or CR), with an
  // optional `event:` type and `id:`. The type and id must not hold CR, LF or NUL
  // (std::invalid_argument). Returns what stream::write returns: false when the client is behind
  // (see on_drain) or gone.
  bool send(std::string_view data, std::string_view event = {}, std::string_view id = {});
  // A comment line (`: text`), ignored by clients.
  bool comment(std::string_view text);
  // Ends the stream (the browser then reconnects after `retry`, unless told otherwise).
  void end();
  bool open() const;
  void on_drain(std::function<void()> f);
  void on_close(std::function<void()> f);

  // The `Last-Event-ID` a reconnecting EventSource sends, if any.
  static std::optional<std::string_view> last_event_id(const request& req) {
    return req.header("Last-Event-ID");
  }

 private:
  struct state;
  std::shared_ptr<state> state_;
};

}  // namespace hive

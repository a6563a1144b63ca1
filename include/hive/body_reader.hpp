// hive::body_reader — a request body taken as it arrives instead of held whole in memory, for a
// route added with route_options::stream_body (an upload to disk, a proxy). The handler runs when
// the head is complete, asks for the body, and answers once it has it:
//
//   app.put("/files/:name", [](const hive::request& req, hive::response& res) {
//     auto done = res.defer();
//     auto body = req.body_reader();
//     body.on_data([f](std::string_view chunk) { f->write(chunk); });   // taken when it returns
//     body.on_end([f, done](bool complete) mutable { if (complete) done.finish(...); });
//   }, {.max_body = 4ull << 30, .stream_body = true});
//
// Backpressure: the worker reads no more from the socket while on_data runs, and not at all
// while the reader is paused (pause() from on_data, resume() once the consumer caught up), so a
// slow consumer never makes the worker buffer. A chunk is a view valid only during on_data.
// `100 Continue` goes out only when the handler registered on_data or on_end. A handler that
// answers without reading (401, 413) has its answer sent and the connection closed after it
// (the rest of the body is read and discarded, RFC 9112 §9.6). The body timeout
// (options::body_timeout) counts from the last bytes received, not from the head.
// Use the reader on the worker's loop that made it, like a deferred.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

namespace hive {

namespace detail {
struct body_state;
}

class body_reader {
 public:
  body_reader() = default;

  // Runs for each piece of the body as it arrives, in order (chunked framing removed).
  void on_data(std::function<void(std::string_view chunk)> f);
  // Runs once: complete = true when the whole body arrived (on_data has seen all of it); false
  // when it never will — the client went away, the body timed out, passed max_body or was
  // malformed (hive answers 408/413/400 itself), or the response was sent before it ended.
  // Set after the end, it runs at once.
  void on_end(std::function<void(bool complete)> f);
  // Stops reading the body from the socket after the piece in progress; resume() goes on.
  void pause();
  void resume();
  bool paused() const;
  // Body bytes delivered so far.
  std::uint64_t received() const;
  // True until the body ended or was cut.
  bool open() const;

 private:
  friend class request;
  explicit body_reader(std::shared_ptr<detail::body_state> s) : state_(std::move(s)) {}
  std::shared_ptr<detail::body_state> state_;
};

}  // namespace hive

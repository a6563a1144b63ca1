// hive::stream — a response body sent in parts as the application produces them (a long
// download generated on the fly, a feed of events). Set the status and headers, then:
//
//   auto s = res.stream("text/plain");   // the head goes out now: chunked on HTTP/1.1
//   s.write("first part\n");             // false: the client is behind; wait for on_drain
//   s.on_drain([s]() mutable { s.write("more\n"); s.end(); });
//
// Use a stream on the worker's loop that made it, like a deferred. Dropped without end(), the
// body is cut: the connection closes without the last chunk, so the client sees it incomplete.
#pragma once

#include <functional>
#include <initializer_list>
#include <memory>
#include <string_view>

namespace hive {

namespace detail {
struct stream_state;
}

class stream {
 public:
  stream() = default;

  // Queues a part (copied). True while the client keeps up; false once more than 64 KiB waits
  // for the client (on_drain says when to go on; the part is queued all the same) or once the
  // stream is ended or the client gone (see open()).
  bool write(std::string_view part);
  // Ends the body: the last chunk goes out and the connection serves its next request.
  void end();
  // The same with trailer fields after the last chunk (a checksum, a status known only at the
  // end), e.g. `s.end({{"X-Checksum", sum}})`; announce them with `res.header("Trailer",
  // "X-Checksum")` before stream(). HTTP/1.1 only: a 1.0 body ends with the close and they are
  // dropped. A name that is not a token, a value with CR, LF or NUL, or a framing field
  // (Content-Length, Transfer-Encoding, Trailer, Host, Connection) throws std::invalid_argument,
  // and the stream stays open.
  struct trailer {
    std::string_view name;
    std::string_view value;
  };
  void end(std::initializer_list<trailer> trailers);
  // True until end(), or until the client goes away.
  bool open() const;

  // Runs when everything queued was sent after a write() returned false: the pull side of the
  // stream. Runs on the worker's loop.
  void on_drain(std::function<void()> f);
  // Runs once if the client goes away before end(). Runs on the worker's loop.
  void on_close(std::function<void()> f);
  // Runs once when the worker starts a graceful stop (SIGTERM, a rolling reload) while the stream
  // is open — at once if it already has: end the stream soon, or it is cut when the shutdown
  // timeout runs out. (hive::event_stream ends itself; its clients reconnect to another worker.)
  void on_stop(std::function<void()> f);

 private:
  friend class response;
  explicit stream(std::shared_ptr<detail::stream_state> s) : state_(std::move(s)) {}
  std::shared_ptr<detail::stream_state> state_;
};

}  // namespace hive

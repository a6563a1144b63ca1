// How a response that hive handed to a handler reaches its connection: deferred answers and
// streams call back into the session through `responder`. Internal: public headers name these
// types only as opaque declarations.
#pragma once

#include <functional>
#include <memory>
#include <string_view>

#include "hive/response.hpp"

namespace hive::detail {

struct stream_state;
struct body_state;

// The connection side of defer() and stream(), implemented by hive's HTTP session.
class responder {
 public:
  virtual std::shared_ptr<deferred_state> make_deferred() = 0;
  virtual response* deferred_target() = 0;
  virtual void complete_deferred(bool failed) = 0;
  virtual std::shared_ptr<stream_state> make_stream() = 0;
  // False: more than the high-water mark is queued, or the stream is over.
  virtual bool stream_write(std::string_view part) = 0;
  // `complete`: end() was called; otherwise the last handle was dropped (the body is cut).
  // `trailers`: checked field lines ("Name: value\r\n" each) for the last chunk, or empty.
  virtual void stream_end(bool complete, std::string_view trailers) = 0;
  // request::body_reader(): the body's reader (one per request); null when the route does not
  // stream its body or the handler has returned.
  virtual std::shared_ptr<body_state> make_body_reader() = 0;
  // A paused reader resumed: parse the body again, from the loop.
  virtual void body_resume() = 0;

 protected:
  ~responder() = default;
};

// Where a response hive hands to a handler finds its connection.
struct response_link {
  responder* owner = nullptr;
};

struct deferred_state {
  responder* owner = nullptr;
  bool done = false;
  std::function<void()> on_close;
  ~deferred_state();
  // The client went away: the handle stops being pending and on_close runs.
  void abandon();
};

}  // namespace hive::detail

// What a hive::stream handle shares with the session that sends its parts. The session keeps a
// weak reference; the handles keep it alive. The last handle dropped without end() cuts the body.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "app/responder.hpp"

namespace hive::detail {

class body_coder;

struct stream_state {
  responder* owner = nullptr;  // null once ended or once the client is gone
  bool behind = false;         // a write returned false: on_drain is owed
  bool gone = false;           // the client went away before end()
  bool stopping = false;       // the worker is stopping gracefully: on_stop has run (or will at once)
  std::function<void()> on_drain;
  std::function<void()> on_close;
  std::function<void()> on_stop;
  // A content coding (hive::filters::compress): parts are coded, and flushed, as written.
  std::shared_ptr<body_coder> coder;
  std::string coded;  // the coded part, reused
  ~stream_state();
  // The worker started a graceful stop.
  void stop();
  // The client went away: the stream closes and on_close runs.
  void abandon();
  // Everything queued was sent after a write returned false.
  void drained();
};

}  // namespace hive::detail

// What a hive::body_reader shares with the session that parses the body. The session holds it
// (route_state::body) while the body arrives; the handles keep it alive after that.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

namespace hive::detail {

class responder;

struct body_state {
  responder* owner = nullptr;  // null once the body ended or was cut
  std::function<void(std::string_view)> on_data;
  std::function<void(bool)> on_end;
  std::uint64_t received = 0;
  bool asked = false;     // on_data or on_end was set: the handler wants the body (100 Continue)
  bool paused = false;
  bool ended = false;
  bool complete = false;  // what on_end said (or will say, when set late)
  bool failed = false;    // on_data threw: the rest was discarded, so the body is never whole
  bool delivering = false;  // inside on_data: finish() from there must not destroy it under its feet

  // Body bytes arrived. False: parse no further for now (paused, or no longer wanted).
  bool deliver(std::string_view bytes);
  // The body ended (complete) or will not (cut): on_end runs once, the callbacks are dropped.
  void finish(bool whole);
};

}  // namespace hive::detail

// Which WebSocket connections of this worker subscribe to which topics, and the bridge to the
// cluster's pub/sub: one worker-level subscription per topic (made at its first local
// subscriber), whose messages fan out to the local subscribers with one frame built for all.
#pragma once

#include <string_view>

namespace hive::detail {

class ws_session;

void topic_add(std::string_view topic, ws_session* s);
void topic_remove(std::string_view topic, ws_session* s);

}  // namespace hive::detail

// Which WebSocket connections of this worker subscribe to which topics, and the bridge to the
// cluster's pub/sub: one worker-level subscription per topic (made at its first local
// subscriber), whose messages fan out to the local subscribers with one frame built for all.
#pragma once

#include <cstddef>
#include <string_view>

namespace hive::detail {

class ws_session;

void topic_add(std::string_view topic, ws_session* s);
void topic_remove(std::string_view topic, ws_session* s);
// Topics this thread knows (with a subscriber): for tests of churn.
std::size_t ws_topic_count();

}  // namespace hive::detail

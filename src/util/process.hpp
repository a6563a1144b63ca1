// Process-wide set-up every hive process does once: ignore SIGPIPE (a closed peer is an error
// value from send, not a signal) and raise the open-files limit to its hard limit, so a worker
// can hold as many connections as the system allows.
#pragma once

namespace hive::detail {

void prepare_process();

}  // namespace hive::detail

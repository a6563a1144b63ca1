// Prometheus metrics of the whole cluster, read from shared memory by whichever worker answers:
// requests by method and status class, bytes, connections, a request-duration histogram,
// restarts, reloads, workers up and each worker's memory, CPU and descriptors. `--metrics-path`
// serves them on hive's own route; to put them behind your own filters, mount the handler:
//
//   auto admin = app.group("/admin");
//   admin.use(require_token);                       // your auth
//   admin.get("/metrics", hive::metrics_handler());
#pragma once

#include <string>

#include "hive/router.hpp"

namespace hive {

// The text exposition format (version 0.0.4) of every slot: a cluster worker reads all slots,
// a single process (hive::serve, an embedded server) its own servers.
std::string metrics_text();
// A handler answering metrics_text() with Prometheus's content type.
handler metrics_handler();

}  // namespace hive

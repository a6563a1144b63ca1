// What hive's own operations routes (--metrics-path, --health-path, --ready-path) answer, for the
// application layer; the cluster layer knows where the numbers are.
#pragma once

#include "hive/response.hpp"

namespace hive::detail {

// metrics_text() with Prometheus's content type.
void answer_metrics(response& res);
// 200 "ok": the loop that runs this answers.
void answer_health(response& res);
// 200 when every slot listens and nothing drains; 503 otherwise. Alone (no cluster),
// `local_draining` is this server's own drain.
void answer_ready(response& res, bool local_draining);

}  // namespace hive::detail

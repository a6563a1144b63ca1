// hive — an HTTP/1.1 server framework with clustering built in. Include this one header.
#pragma once

#include "hive/app.hpp"
#include "hive/body_reader.hpp"
#include "hive/cluster.hpp"
#include "hive/event_stream.hpp"
#include "hive/filter.hpp"
#include "hive/filters/compress.hpp"
#include "hive/filters/cors.hpp"
#include "hive/filters/rate_limit.hpp"
#include "hive/filters/request_id.hpp"
#include "hive/http_error.hpp"
#include "hive/options.hpp"
#include "hive/request.hpp"
#include "hive/response.hpp"
#include "hive/router.hpp"
#include "hive/server.hpp"
#include "hive/stats.hpp"
#include "hive/metrics.hpp"
#include "hive/metric.hpp"
#include "hive/multipart.hpp"
#include "hive/multipart_form.hpp"
#include "hive/shared_dict.hpp"
#include "hive/static_files.hpp"
#include "hive/worker.hpp"
#include "hive/websocket.hpp"

#include <nlohmann/json.hpp>

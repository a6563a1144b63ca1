// Writes a response's status line, hive's own fields and the handler's into the connection's
// output queue, then the body: bytes serialized back to back share one segment, so a pipelined
// batch leaves in one write.
#pragma once

#include <string_view>

#include "net/output_queue.hpp"

namespace hive::detail {

struct response_head {
  int status = 200;
  std::string_view common;        // "Server: …\r\nDate: …\r\n" from the date cache
  std::string_view content_type;  // empty: none
  std::string_view fields;        // the handler's "name: value\r\n" lines
  bool close = false;             // Connection: close
  bool keep_alive_10 = false;     // Connection: keep-alive, for an HTTP/1.0 client that asked
  bool head_request = false;      // HEAD: length of the body, but no body
};

// Appends the whole response to `out`. 1xx, 204 and 304 carry neither body nor Content-Length.
void serialize(output_queue& out, const response_head& head, std::string_view body);

// Appends `HTTP/1.1 100 Continue\r\n\r\n`.
void serialize_continue(output_queue& out);

}  // namespace hive::detail

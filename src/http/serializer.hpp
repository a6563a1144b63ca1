// Writes a response's status line, hive's own fields and the handler's into the connection's
// output queue, then the body: bytes are copied behind the head (responses serialized back to
// back share one segment, so a pipelined batch leaves in one write); a body_ref is queued by
// reference and a file range as a file segment (sendfile).
#pragma once

#include <cstdint>
#include <string_view>

#include "hive/response.hpp"
#include "net/output_queue.hpp"

namespace hive::detail {

struct response_head {
  std::string_view common;        // "Server: …\r\nDate: …\r\n" from the date cache
  bool close = false;             // Connection: close
  bool keep_alive_10 = false;     // Connection: keep-alive, for an HTTP/1.0 client that asked
  bool head_request = false;      // HEAD: length of the body, but no body
  bool chunked = false;           // a streamed body: Transfer-Encoding: chunked
};

// Appends the whole response to `out`; returns the bytes queued. 1xx, 204 and 304 carry neither
// body nor Content-Length. Not for stream bodies:
std::uint64_t serialize(output_queue& out, const response_head& head, const response& res);

// A streamed body's head: no Content-Length, `Transfer-Encoding: chunked` when `head.chunked`.
// The parts follow as they are written.
std::uint64_t serialize_stream_head(output_queue& out, const response_head& head, const response& res);

// Appends a 101 with the response's fields (Upgrade and the protocol's own) and
// `Connection: upgrade`; returns the bytes queued.
std::uint64_t serialize_switching(output_queue& out, std::string_view common, const response& res);

// Appends `HTTP/1.1 100 Continue\r\n\r\n`.
void serialize_continue(output_queue& out);

}  // namespace hive::detail

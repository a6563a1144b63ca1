// Per-request working memory, borrowed from the worker's pool while a connection has a request in
// progress or output to send, and given back when it goes idle. An idle keep-alive connection
// therefore holds none of it, and a busy worker allocates nothing per request: the pool hands
// back buffers whose capacity the last requests already grew. (The bytes read are in the
// connection's input_buffer, pooled by the net layer.)
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "app/dispatcher.hpp"
#include "app/responder.hpp"
#include "app/request_scratch.hpp"
#include "hive/request.hpp"
#include "hive/response.hpp"
#include "http/request_parser.hpp"
#include "net/output_queue.hpp"
#include "net/protocol.hpp"

namespace hive::detail {

// Everything a request in progress needs lives here, not in the connection: an idle connection
// holds none of it.
struct conn_buffers {
  request_parser parser;
  output_queue out;  // responses waiting to be written, in order

  // The request being parsed.
  std::vector<raw_header> raw_headers;
  std::vector<header_field> headers;
  std::string body;

  request req;
  route_state route;
  span path, query;                   // relative to the request target
  request_scratch scratch;            // query values request::query() decodes
  std::uint64_t message_bytes = 0;    // of the message in progress, as parsed
  // What the finished record names: views of the request, or of the copies a deferred response
  // keeps (its request's bytes may move while it is pending).
  std::string_view record_method, record_target;
  std::string pending_method, pending_target;
  std::string pending_head;  // with filters: a deferred answer's request head, for their after()
  std::int64_t message_start_ms = 0;

  // The response being built, reused from request to request.
  response_link link;  // before `res`, which points to it
  response res{&link};
  std::weak_ptr<deferred_state> deferred;
  std::weak_ptr<stream_state> stream;
  std::uint64_t stream_bytes = 0;  // of the streamed response in progress, head included
  int stream_status = 0;           // what its head said
  // After a 101 is queued: the protocol that takes the connection once it is written.
  std::unique_ptr<protocol> successor;

  // Where body bytes go when the route streams the body (route.stream_body, cleared per message).
  dispatcher* body_to = nullptr;

  void clear_request() {
    route.stream_body = false;
    raw_headers.clear();
    headers.clear();
    route.params.clear();
    body.clear();
  }
};

class buffer_pool {
 public:
  // `keep`: how many idle buffers to hold at most.
  explicit buffer_pool(std::size_t keep = 64) : keep_(keep) {}

  std::unique_ptr<conn_buffers> take();
  void give(std::unique_ptr<conn_buffers> b);
  std::size_t idle() const { return free_.size(); }
  // Frees every idle buffer (the load is gone: return the memory to the system).
  void trim() { free_.clear(); }

 private:
  std::size_t keep_;
  std::vector<std::unique_ptr<conn_buffers>> free_;
};

}  // namespace hive::detail

// The one interface between a protocol (the HTTP/1.1 session) and the application: the protocol
// frames messages, the dispatcher decides what answers them. Every response — a handler's, a
// deferred one, hive's own 404/405/4xx/500 — is reported to finished() exactly once, with a
// record: the place where access logs, metrics and filters' after-hooks hang.
#pragma once

#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hive/request.hpp"
#include "hive/response.hpp"
#include "hive/router.hpp"

namespace hive::detail {

class protocol;
struct route_entry;
struct filter_scope;
struct body_state;

// Where the route of the request in progress is kept (in the connection's pooled memory).
struct route_state {
  const handler* target = nullptr;  // null: see status
  const route_entry* entry = nullptr;  // the route found (its handler is `target`)
  // Whose filters apply: the route's app or group, or for 404/405 the innermost group whose
  // prefix the path is under. Null: the app's (set by route() only when the app has filters).
  const filter_scope* scope = nullptr;
  int status = 200;                 // 404 no path matched; 405 path matched, method did not
  std::string allow;                // for 405: the methods the path has, comma-separated
  std::vector<route_param> params;
  std::string scratch;              // percent-decoded parameter values
  // Set by route(): the body goes to dispatcher::body_data as it arrives instead of being
  // buffered for request::body().
  bool stream_body = false;
  // The body's reader while a streamed body arrives (the session's; see app/body_state.hpp).
  std::shared_ptr<body_state> body;
  // Set by dispatcher::head: the head filters ran (a message without a body has no head event,
  // so handle() runs them itself when this is still false). Reset by route().
  mutable bool heads_ran = false;
  std::int64_t start_us = 0;        // with an access log: monotonic µs when the head was routed
  std::size_t max_body = 0;         // the route's own body limit; 0: the server's
};

// Who produced a response.
enum class origin : std::uint8_t {
  handler,  // the application's handler (directly or deferred)
  hive,     // hive itself: no route (404, 405), OPTIONS *, a rejected request (4xx), a failed handler (500)
};

struct finished_record {
  int status = 0;
  origin by = origin::hive;
  std::uint64_t bytes_in = 0;    // the request's bytes as received (head and body)
  std::uint64_t bytes_out = 0;   // the response's bytes as serialized (head and body)
  std::int64_t start_ms = 0;     // monotonic: when the request's first byte was parsed
  std::int64_t end_ms = 0;       // monotonic: when the response was queued
  const address* peer = nullptr;
  std::string_view method;       // empty for a request refused before its method was known
  std::string_view target;
};

class dispatcher {
 public:
  // The head is complete: find the route. False when there is none (the body is not worth
  // inviting with 100 Continue).
  virtual bool route(std::string_view method, std::string_view path, route_state& r) const = 0;
  // Body bytes of a message whose route asked for them as they arrive (stream_body), in order.
  // Must not throw. False: parse no further for now (the consumer paused, or wants no more).
  virtual bool body_data(route_state& r, std::string_view bytes) = 0;
  // An upgrade request (`Upgrade` with `Connection: upgrade`) is complete. To switch, add the
  // 101's fields to `res` and return the protocol that takes the connection once the 101 is
  // written; it is fed the bytes read past the request. Null: handle() answers the request as
  // any other, and the connection closes after that answer. May throw (hive answers 500).
  virtual std::unique_ptr<protocol> upgrade(const request& req, response& res, const route_state& r) = 0;
  // The message is complete: fill `res`. A handler may throw (the session answers 500) or defer.
  virtual void handle(const request& req, response& res, const route_state& r) const = 0;
  // hive answers `status` itself (no route, a refused request, a failed handler): the body.
  virtual void hive_answer(int status, const route_state* r, response& res) const = 0;
  virtual void finished(const finished_record& rec) = 0;

  // A handler or filter threw `e`: true when it says what to answer (hive::http_error), which is
  // now in `res`; false for hive's 500.
  virtual bool answer_exception(const std::exception& e, const route_state* r, response& res) const {
    (void)e, (void)r, (void)res;
    return false;
  }

  // Filters. The session asks these only when the flags below say there is something to run,
  // so an application without filters pays a load and a branch.
  // The head is complete and routed; `req` has no body yet. True when a filter answered `res`
  // (the session sends it and closes: the body is never read).
  virtual bool head(const request& req, response& res, const route_state& r) {
    (void)req, (void)res, (void)r;
    return false;
  }
  // `res` is about to be serialized, whoever produced it; `r` null for a request refused before
  // it was routed. Must not throw.
  virtual void before_send(const request& req, response& res, const route_state* r) {
    (void)req, (void)res, (void)r;
  }
  bool filters_at_head() const { return filters_at_head_; }
  bool filters_before_send() const { return filters_before_send_; }

 protected:
  ~dispatcher() = default;
  bool filters_at_head_ = false;
  bool filters_before_send_ = false;
};

}  // namespace hive::detail

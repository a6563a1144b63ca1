// hive::response — what the handler answers. Set a status and headers, then one body call:
//
//   res.status(201).header("Location", "/users/7").json({{"id", 7}});
//
// hive adds Date, Content-Length, Connection and Server itself. A response the handler leaves
// untouched is `200` with an empty body. To answer later (from a timer, after I/O), take a
// `deferred` with `res.defer()` and call `finish` on the same worker's event loop.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace hive {

namespace detail {
class session;
struct deferred_state;
}  // namespace detail

class deferred;

class response {
 public:
  response& status(int code);  // 200..599; other codes throw std::invalid_argument
  int status() const { return status_; }

  // Adds a header field. Names must be tokens and values must not hold CR, LF or NUL
  // (std::invalid_argument otherwise: a handler cannot split a response). Content-Length,
  // Transfer-Encoding and Date are hive's; `Connection: close` closes after this response.
  response& header(std::string_view name, std::string_view value);

  // One of these sets the body (a later call replaces it).
  // text() and json() keep a Content-Type set earlier with header().
  void text(std::string_view body);                      // text/plain; charset=utf-8
  void json(const nlohmann::json& value);                // application/json
  // `content_type` empty: the Content-Type set with header(), else application/octet-stream.
  void body(std::string_view bytes, std::string_view content_type = {});

  // Keep the request open and answer later; see `deferred`. Calling it again for the same
  // response returns the same handle.
  deferred defer();



 private:
  friend class detail::session;
  int status_ = 200;
  bool close_ = false;
  bool deferred_ = false;
  // Owned by the session and reused from request to request.
  std::string* headers_ = nullptr;  // serialized "name: value\r\n" lines
  std::string* body_ = nullptr;
  std::string* type_ = nullptr;     // Content-Type
  detail::session* session_ = nullptr;
};

// A handle to a response that is finished later on the same worker. Copyable; when the last copy
// is dropped without `finish`, the client gets a 500 rather than a request that never ends.
class deferred {
 public:
  deferred() = default;

  // Fills the response with `fill(response&)` and sends it, in order with the connection's other
  // responses. Returns false, without calling `fill`, if the client is gone or it was finished.
  template <class Fill>
  bool finish(Fill&& fill) {
    response* res = target();
    if (res == nullptr) return false;
    try {
      fill(*res);
    } catch (...) {
      fail_();
      return true;
    }
    complete_();
    return true;
  }

  // True while the client still waits for this response.
  bool pending() const { return target() != nullptr; }

 private:
  friend class response;
  explicit deferred(std::shared_ptr<detail::deferred_state> s) : state_(std::move(s)) {}
  response* target() const;
  void complete_();
  void fail_();
  std::shared_ptr<detail::deferred_state> state_;
};

}  // namespace hive

// hive::response — what the handler answers: a plain value. Set a status and headers, then one
// body call:
//
//   res.status(201).header("Location", "/users/7").json({{"id", 7}});
//
// hive adds Date, Content-Length, Connection and Server itself. A response the handler leaves
// untouched is `200` with an empty body. To answer later (from a timer, after I/O), take a
// `deferred` with `res.defer()` and call `finish` on the same worker's event loop.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "hive/stream.hpp"

namespace hive {

class deferred;
class response;

namespace detail {
// hive's side of a response it hands to a handler (defined in hive's sources).
struct response_link;
struct deferred_state;
class body_coder;
struct response_access;
}  // namespace detail

// The attributes of a cookie set with response::cookie (RFC 6265 §4.1).
struct cookie_options {
  enum class same_site_policy : std::uint8_t { unset, lax, strict, none };
  std::optional<std::chrono::seconds> max_age;  // 0 or less: delete the cookie now
  std::string path;                             // empty: no Path attribute
  std::string domain;                           // empty: no Domain (host-only)
  bool secure = false;
  bool http_only = false;
  same_site_policy same_site = same_site_policy::unset;  // `none` requires `secure`
};

class response {
 public:
  // A response of one's own (a test, a cache) works in full, except defer().
  response() = default;
  // One that hive hands to handlers (defer() and stream() reach the connection through it).
  explicit response(detail::response_link* link) : link_(link) {}

  response& status(int code);  // 200..599; other codes throw std::invalid_argument
  int status() const { return status_; }

  // Adds a header field. Names must be tokens and values must not hold CR, LF or NUL
  // (std::invalid_argument otherwise: a handler cannot split a response). Content-Length,
  // Transfer-Encoding and Date are hive's; `Connection` takes only `close` (closes after this
  // response; anything else throws: hive decides persistence).
  response& header(std::string_view name, std::string_view value);

  // Adds a Set-Cookie field (several cookies: several calls). The name must be a token, the value
  // cookie-octets (RFC 6265 §4.1.1: no space, quote, comma, semicolon, backslash or control;
  // optionally in double quotes), path and domain free of ';' and controls; same_site none needs
  // secure. std::invalid_argument otherwise.
  response& cookie(std::string_view name, std::string_view value, const cookie_options& o = {});
  // `status` (301, 302, 303, 307 or 308; std::invalid_argument otherwise) with a Location field.
  void redirect(std::string_view location, int status = 302);

  // One of these sets the body (a later call replaces it).
  // text() and json() keep a Content-Type set earlier with header().
  void text(std::string_view body);                      // text/plain; charset=utf-8
  void json(const nlohmann::json& value);                // application/json
  // `content_type` empty: the Content-Type set with header(), else application/octet-stream.
  void body(std::string_view bytes, std::string_view content_type = {});
  // Bytes hive sends without copying: they stay valid and unchanged until sent, for as long as
  // `owner` lives (none: static data, such as a string literal or a cache that outlives hive).
  void body_ref(std::string_view bytes, std::shared_ptr<const void> owner = {},
                std::string_view content_type = {});
  // `length` bytes of an open file from `offset`, sent by the kernel (sendfile). The descriptor
  // must stay open while `owner` lives: give it an owner that closes it.
  void file_range(int fd, std::uint64_t offset, std::uint64_t length,
                  std::shared_ptr<const void> owner, std::string_view content_type = {});

  // Sends the head now and the body in parts as they are written; see `stream`. Set the status
  // and headers first (changes after this call are not sent). `content_type` as for body().
  // Throws std::logic_error on a response hive did not hand to a handler, or one already sent.
  hive::stream stream(std::string_view content_type = {});

  // Keep the request open and answer later; see `deferred`. Calling it again for the same
  // response returns the same handle. Throws std::logic_error on a response hive did not hand
  // to a handler.
  deferred defer();

  // What was set — for hive's serializer, and for code that inspects a response.
  enum class body_kind : std::uint8_t { bytes, ref, file, stream };
  body_kind kind() const { return kind_; }
  std::string_view fields() const { return fields_; }  // the "name: value\r\n" lines set
  std::string_view content_type() const;
  bool closes() const { return close_; }               // `Connection: close` was set
  std::uint64_t body_size() const {
    return kind_ == body_kind::file ? file_.length : body_bytes().size();
  }
  std::string_view body_bytes() const {  // bytes and ref bodies
    return kind_ == body_kind::ref ? ref_ : std::string_view(bytes_);
  }
  struct file_part {
    int fd = -1;
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
  };
  file_part body_file() const { return file_; }
  const std::shared_ptr<const void>& body_owner() const { return owner_; }

  // Back to an untouched 200, keeping the memory it grew (hive reuses responses), except a body
  // over 256 KiB, which is freed.
  void reset();

 private:
  friend struct detail::response_access;  // hive's own filters (compression)
  // hive's own types are named, not copied: most responses never copy a Content-Type.
  enum class type_kind : std::uint8_t { none, text, json, octets, own };
  void set_type(std::string_view content_type, type_kind fallback);
  void drop_body();

  int status_ = 200;
  bool close_ = false;
  body_kind kind_ = body_kind::bytes;
  type_kind type_kind_ = type_kind::none;
  std::string fields_;
  std::string type_;
  std::string bytes_;
  std::string_view ref_;
  file_part file_;
  std::shared_ptr<const void> owner_;
  // What a streamed body's parts go through (set by a filter's after(); taken by stream()).
  std::shared_ptr<detail::body_coder> coder_;
  detail::response_link* link_ = nullptr;
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
  // Runs once if the client goes away before the response is finished (its connection closed or
  // was reset): stop the work the answer waited for. Runs on the worker's loop.
  void on_close(std::function<void()> f);

 private:
  friend class response;
  explicit deferred(std::shared_ptr<detail::deferred_state> s) : state_(std::move(s)) {}
  response* target() const;
  void complete_();
  void fail_();
  std::shared_ptr<detail::deferred_state> state_;
};


}  // namespace hive

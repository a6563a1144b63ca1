#include "hive/response.hpp"

#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "app/responder.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

namespace hive {

using detail::iequals;

namespace {
// A body that grew past this is freed by reset(), not kept for the next response.
constexpr std::size_t keep_body_bytes = 256 * 1024;
}  // namespace

response& response::status(int code) {
  // 1xx are interim: sent as the final answer, the client would take the next response as this
  // request's, and every answer after it would be off by one.
  if (code < 200 || code > 599) {
    throw std::invalid_argument("hive: status " + std::to_string(code) +
                                " is not a final status (200..599)");
  }
  status_ = code;
  return *this;
}

response& response::header(std::string_view name, std::string_view value) {
  if (!detail::is_token(name)) {
    throw std::invalid_argument("hive: header name '" + std::string(name) + "' is not a token");
  }
  for (char c : value) {
    // CR or LF would let a value start a new field or a new response.
    if (c == '\r' || c == '\n' || c == '\0') {
      throw std::invalid_argument("hive: the value of header '" + std::string(name) +
                                  "' holds CR, LF or NUL");
    }
  }
  if (iequals(name, "content-length") || iequals(name, "transfer-encoding") ||
      iequals(name, "date")) {
    throw std::invalid_argument("hive: header '" + std::string(name) +
                                "' is set by hive; set the body instead");
  }
  if (iequals(name, "connection")) {
    // hive owns persistence: keep-alive follows the request, and an upgrade is a protocol's.
    bool close = false, other = false;
    detail::for_each_list_item(value, [&](std::string_view v) {
      if (iequals(v, "close")) {
        close = true;
      } else {
        other = true;
      }
    });
    if (other || !close) {
      throw std::invalid_argument("hive: header 'Connection' takes only 'close' (got '" +
                                  std::string(value) + "'); hive keeps connections alive itself");
    }
    close_ = true;
    return *this;
  }
  if (iequals(name, "content-type")) {
    type_.assign(detail::trim_ows(value));
    type_kind_ = type_kind::own;
    return *this;
  }
  fields_.append(name);
  fields_.append(": ");
  fields_.append(detail::trim_ows(value));
  fields_.append("\r\n");
  return *this;
}

std::string_view response::content_type() const {
  switch (type_kind_) {
    case type_kind::none: return {};
    case type_kind::text: return "text/plain; charset=utf-8";
    case type_kind::json: return "application/json";
    case type_kind::octets: return "application/octet-stream";
    case type_kind::own: return type_;
  }
  return {};
}

void response::set_type(std::string_view content_type, type_kind fallback) {
  if (!content_type.empty()) {
    // The type goes into the head as it is: CR or LF would start a field or a response of the
    // client's choosing when a handler passes on what it was sent.
    for (char c : content_type) {
      if (c == '\r' || c == '\n' || c == '\0') {
        throw std::invalid_argument("hive: the content type holds CR, LF or NUL");
      }
    }
    type_.assign(content_type);
    type_kind_ = type_kind::own;
  } else if (type_kind_ == type_kind::none) {
    type_kind_ = fallback;
  }
}

// Only a ref or file body holds more than bytes_: the common case costs a compare.
void response::drop_body() {
  if (kind_ == body_kind::bytes) return;
  kind_ = body_kind::bytes;
  ref_ = {};
  file_ = {};
  owner_.reset();
  coder_.reset();  // a coder is only ever set on a stream body: not a bytes one
}

void response::text(std::string_view body) {
  if (type_kind_ == type_kind::none) type_kind_ = type_kind::text;
  if (kind_ != body_kind::bytes) drop_body();
  bytes_.assign(body);
}

void response::json(const nlohmann::json& value) {
  set_type({}, type_kind::json);
  drop_body();
  // Invalid UTF-8 in a string is replaced, not thrown: a handler's data should not turn into a 500.
  bytes_ = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void response::body(std::string_view bytes, std::string_view content_type) {
  set_type(content_type, type_kind::octets);
  drop_body();
  bytes_.assign(bytes);
}

void response::body_ref(std::string_view bytes, std::shared_ptr<const void> owner,
                        std::string_view content_type) {
  set_type(content_type, type_kind::octets);
  drop_body();
  bytes_.clear();
  kind_ = body_kind::ref;
  ref_ = bytes;
  owner_ = std::move(owner);
}

void response::file_range(int fd, std::uint64_t offset, std::uint64_t length,
                          std::shared_ptr<const void> owner, std::string_view content_type) {
  if (fd < 0) throw std::invalid_argument("hive: file_range needs an open descriptor");
  set_type(content_type, type_kind::octets);
  drop_body();
  bytes_.clear();
  kind_ = body_kind::file;
  file_ = {fd, offset, length};
  owner_ = std::move(owner);
}

void response::reset() {
  status_ = 200;
  close_ = false;
  fields_.clear();
  type_kind_ = type_kind::none;
  drop_body();
  // hive reuses a response from request to request and keeps idle ones in its pool: one large
  // answer must not pin its size there for the life of the worker.
  if (bytes_.capacity() > keep_body_bytes) {
    std::string().swap(bytes_);
  } else {
    bytes_.clear();
  }
}

deferred response::defer() {
  if (link_ == nullptr || link_->owner == nullptr) {
    throw std::logic_error("hive: defer() on a response that no connection is waiting for");
  }
  return deferred(link_->owner->make_deferred());
}

response* deferred::target() const {
  if (!state_ || state_->done || state_->owner == nullptr) return nullptr;
  return state_->owner->deferred_target();
}

void deferred::complete_() {
  state_->done = true;
  state_->on_close = nullptr;  // it may hold the handle: no cycle once finished
  // No owner: `fill` turned the response into a stream, which answers from now on.
  if (state_->owner != nullptr) state_->owner->complete_deferred(false);
}

void deferred::fail_() {
  state_->done = true;
  state_->on_close = nullptr;
  if (state_->owner != nullptr) state_->owner->complete_deferred(true);
}

void deferred::on_close(std::function<void()> f) {
  if (!state_ || state_->done) return;
  if (state_->owner == nullptr) {
    if (f) f();  // already gone
    return;
  }
  state_->on_close = std::move(f);
}

namespace detail {

deferred_state::~deferred_state() {
  if (!done && owner != nullptr) owner->complete_deferred(true);
}

void deferred_state::abandon() {
  owner = nullptr;
  auto f = std::move(on_close);
  on_close = nullptr;
  if (!f) return;
  // User code, run from inside hive's own close path: what it throws is logged, never raised.
  try {
    f();
  } catch (const std::exception& e) {
    detail::warn("a deferred response's on_close threw: ", e.what());
  } catch (...) {
    detail::warn("a deferred response's on_close threw");
  }
}

}  // namespace detail

}  // namespace hive

#include "hive/response.hpp"

#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "http/session.hpp"
#include "util/text.hpp"

namespace hive {

using detail::iequals;

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
    bool close = false;
    detail::for_each_list_item(value, [&](std::string_view v) { close |= iequals(v, "close"); });
    close_ = close_ || close;
    return *this;
  }
  if (iequals(name, "content-type")) {
    type_->assign(value);
    return *this;
  }
  headers_->append(name);
  headers_->append(": ");
  headers_->append(detail::trim_ows(value));
  headers_->append("\r\n");
  return *this;
}

void response::text(std::string_view body) {
  if (type_->empty()) type_->assign("text/plain; charset=utf-8");
  body_->assign(body);
}

void response::json(const nlohmann::json& value) {
  if (type_->empty()) type_->assign("application/json");
  body_->clear();
  // Serializes straight into the reused body buffer: no temporary string.
  auto adapter = nlohmann::detail::output_adapter<char, std::string>(*body_);
  nlohmann::detail::serializer<nlohmann::json> s(adapter, ' ',
                                                 nlohmann::json::error_handler_t::replace);
  s.dump(value, false, false, 0);
}

void response::body(std::string_view bytes, std::string_view content_type) {
  if (!content_type.empty()) {
    type_->assign(content_type);
  } else if (type_->empty()) {
    type_->assign("application/octet-stream");
  }
  body_->assign(bytes);
}

deferred response::defer() { return deferred(session_->make_deferred()); }

response* deferred::target() const {
  if (!state_ || state_->done || state_->owner == nullptr) return nullptr;
  return state_->owner->deferred_target();
}

void deferred::complete_() {
  state_->done = true;
  state_->owner->complete_deferred(false);
}

void deferred::fail_() {
  state_->done = true;
  state_->owner->complete_deferred(true);
}

}  // namespace hive

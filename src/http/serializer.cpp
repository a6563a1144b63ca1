#include "http/serializer.hpp"

#include <charconv>

#include "http/status.hpp"

namespace hive::detail {

namespace {
void append_number(std::string& out, std::size_t n) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, r.ptr);
}
}  // namespace

void serialize(std::string& out, const response_head& h, std::string_view body) {
  const bool bodiless = h.status < 200 || h.status == 204 || h.status == 304;
  out.append(status_line(h.status));
  out.append(h.common);
  if (!h.content_type.empty()) {
    out.append("Content-Type: ");
    out.append(h.content_type);
    out.append("\r\n");
  }
  out.append(h.fields);
  if (!bodiless) {
    out.append("Content-Length: ");
    append_number(out, body.size());
    out.append("\r\n");
  }
  if (h.close) {
    out.append("Connection: close\r\n");
  } else if (h.keep_alive_10) {
    out.append("Connection: keep-alive\r\n");
  }
  out.append("\r\n");
  if (!bodiless && !h.head_request) out.append(body);
}

void serialize_continue(std::string& out) { out.append("HTTP/1.1 100 Continue\r\n\r\n"); }

}  // namespace hive::detail

#include "http/serializer.hpp"

#include <charconv>
#include <cstring>

#include "http/status.hpp"

namespace hive::detail {

namespace {
char* put(char* p, std::string_view s) {
  // An empty view may have a null data(): memcpy from null is undefined even for 0 bytes (UBSan).
  if (!s.empty()) std::memcpy(p, s.data(), s.size());
  return p + s.size();
}
}  // namespace

void serialize(output_queue& out, const response_head& h, std::string_view body) {
  const bool bodiless = h.status < 200 || h.status == 204 || h.status == 304;
  const bool send_body = !bodiless && !h.head_request;
  char length[24];
  std::size_t length_size = 0;
  if (!bodiless) length_size = static_cast<std::size_t>(std::to_chars(length, length + sizeof length, body.size()).ptr - length);
  const std::string_view status = status_line(h.status);
  const std::string_view connection = h.close           ? "Connection: close\r\n"
                                      : h.keep_alive_10 ? "Connection: keep-alive\r\n"
                                                        : "";
  constexpr std::string_view type_name = "Content-Type: ";
  constexpr std::string_view length_name = "Content-Length: ";
  // Sized once, filled with memcpy: a dozen appends each re-check the capacity.
  const std::size_t size = status.size() + h.common.size() +
                           (h.content_type.empty() ? 0 : type_name.size() + h.content_type.size() + 2) +
                           h.fields.size() + (bodiless ? 0 : length_name.size() + length_size + 2) +
                           connection.size() + 2 + (send_body ? body.size() : 0);
  char* p = out.append_space(size);
  p = put(p, status);
  p = put(p, h.common);
  if (!h.content_type.empty()) {
    p = put(p, type_name);
    p = put(p, h.content_type);
    p = put(p, "\r\n");
  }
  p = put(p, h.fields);
  if (!bodiless) {
    p = put(p, length_name);
    p = put(p, {length, length_size});
    p = put(p, "\r\n");
  }
  p = put(p, connection);
  p = put(p, "\r\n");
  if (send_body) put(p, body);
}

void serialize_continue(output_queue& out) { out.append("HTTP/1.1 100 Continue\r\n\r\n"); }

}  // namespace hive::detail

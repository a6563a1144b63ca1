#include "http/serializer.hpp"

#include <charconv>
#include <cstring>

#include "util/status.hpp"

namespace hive::detail {

namespace {
char* put(char* p, std::string_view s) {
  // An empty view may have a null data(): memcpy from null is undefined even for 0 bytes (UBSan).
  if (!s.empty()) std::memcpy(p, s.data(), s.size());
  return p + s.size();
}


}  // namespace

std::uint64_t serialize_stream_head(output_queue& out, const response_head& h, const response& res) {
  constexpr std::string_view chunked = "Transfer-Encoding: chunked\r\n";
  const std::string_view line = status_line(res.status());
  const std::string_view type = res.content_type();
  const std::string_view connection = h.close           ? "Connection: close\r\n"
                                      : h.keep_alive_10 ? "Connection: keep-alive\r\n"
                                                        : "";
  constexpr std::string_view type_name = "Content-Type: ";
  const std::string_view fields = res.fields();
  const std::size_t size = line.size() + h.common.size() +
                           (type.empty() ? 0 : type_name.size() + type.size() + 2) + fields.size() +
                           (h.chunked ? chunked.size() : 0) + connection.size() + 2;
  char* p = out.append_space(size);
  p = put(p, line);
  p = put(p, h.common);
  if (!type.empty()) {
    p = put(p, type_name);
    p = put(p, type);
    p = put(p, "\r\n");
  }
  p = put(p, fields);
  if (h.chunked) p = put(p, chunked);
  p = put(p, connection);
  put(p, "\r\n");
  return size;
}

std::uint64_t serialize(output_queue& out, const response_head& h, const response& res) {
  const int status = res.status();
  const bool bodiless = status < 200 || status == 204 || status == 304;
  const bool send_body = !bodiless && !h.head_request;
  const std::uint64_t body_size = res.body_size();
  const bool copy_body = send_body && res.kind() == response::body_kind::bytes;
  const std::string_view body = copy_body ? res.body_bytes() : std::string_view();
  char length[24];
  std::size_t length_size = 0;
  if (!bodiless) length_size = static_cast<std::size_t>(std::to_chars(length, length + sizeof length, body_size).ptr - length);
  const std::string_view line = status_line(status);
  const std::string_view type = res.content_type();
  const std::string_view fields = res.fields();
  const std::string_view connection = h.close           ? "Connection: close\r\n"
                                      : h.keep_alive_10 ? "Connection: keep-alive\r\n"
                                                        : "";
  constexpr std::string_view type_name = "Content-Type: ";
  constexpr std::string_view length_name = "Content-Length: ";
  // Sized once, filled with memcpy: a dozen appends each re-check the capacity.
  const std::size_t head_size = line.size() + h.common.size() +
                                (type.empty() ? 0 : type_name.size() + type.size() + 2) +
                                fields.size() + (bodiless ? 0 : length_name.size() + length_size + 2) +
                                connection.size() + 2;
  char* p = out.append_space(head_size + body.size());
  p = put(p, line);
  p = put(p, h.common);
  if (!type.empty()) {
    p = put(p, type_name);
    p = put(p, type);
    p = put(p, "\r\n");
  }
  p = put(p, fields);
  if (!bodiless) {
    p = put(p, length_name);
    p = put(p, {length, length_size});
    p = put(p, "\r\n");
  }
  p = put(p, connection);
  p = put(p, "\r\n");
  put(p, body);
  if (!send_body || copy_body) return head_size + body.size();
  if (res.kind() == response::body_kind::ref) {
    out.append_view(res.body_bytes(), res.body_owner());
  } else {
    const auto f = res.body_file();
    out.append_file({f.fd, f.offset, f.length}, res.body_owner());
  }
  return head_size + body_size;
}

std::uint64_t serialize_switching(output_queue& out, std::string_view common, const response& res) {
  constexpr std::string_view line = "HTTP/1.1 101 Switching Protocols\r\n";
  constexpr std::string_view connection = "Connection: upgrade\r\n\r\n";
  const std::string_view fields = res.fields();
  const std::size_t size = line.size() + common.size() + fields.size() + connection.size();
  char* p = out.append_space(size);
  p = put(p, line);
  p = put(p, common);
  p = put(p, fields);
  put(p, connection);
  return size;
}

void serialize_continue(output_queue& out) { out.append("HTTP/1.1 100 Continue\r\n\r\n"); }

}  // namespace hive::detail

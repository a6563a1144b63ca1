#include "support/http_reader.hpp"

#include <cctype>
#include <charconv>

namespace hive::test {

namespace {
bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}
}  // namespace

std::optional<std::string> parsed_response::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (iequal(n, name)) return v;
  }
  return std::nullopt;
}

int parsed_response::count(std::string_view name) const {
  int c = 0;
  for (const auto& [n, v] : headers) c += iequal(n, name);
  return c;
}

read_result read_responses(std::string_view bytes, const std::vector<bool>& head_requests,
                           bool keep_rest) {
  read_result out;
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    const auto end = bytes.find("\r\n\r\n", pos);
    if (end == std::string_view::npos) break;
    std::string_view head = bytes.substr(pos, end - pos);
    parsed_response r;
    const auto line_end = head.find("\r\n");
    const std::string_view status_line = head.substr(0, line_end);
    if (status_line.size() < 12 || !status_line.starts_with("HTTP/1.") || status_line[8] != ' ') {
      out.malformed = true;
      return out;
    }
    r.version = std::string(status_line.substr(0, 8));
    std::from_chars(status_line.data() + 9, status_line.data() + 12, r.status);
    r.reason = std::string(status_line.substr(std::min<std::size_t>(13, status_line.size())));
    std::string_view fields = line_end == std::string_view::npos ? std::string_view() : head.substr(line_end + 2);
    while (!fields.empty()) {
      const auto e = fields.find("\r\n");
      const std::string_view line = fields.substr(0, e);
      const auto colon = line.find(':');
      if (colon == std::string_view::npos) {
        out.malformed = true;
        return out;
      }
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      r.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
      if (e == std::string_view::npos) break;
      fields.remove_prefix(e + 2);
    }
    std::size_t body_start = end + 4;
    std::size_t length = 0;
    const bool is_head = out.responses.size() < head_requests.size() && head_requests[out.responses.size()];
    const bool bodiless = r.status < 200 || r.status == 204 || r.status == 304 || is_head;
    const auto te = r.header("Transfer-Encoding");
    if (te && !bodiless) {
      if (!iequal(*te, "chunked")) {
        out.malformed = true;
        return out;
      }
      // chunk-size CRLF data CRLF …, then 0 CRLF, trailer fields, CRLF.
      std::size_t at = body_start;
      bool complete = false;
      while (true) {
        const auto size_end = bytes.find("\r\n", at);
        if (size_end == std::string_view::npos) break;
        std::size_t size = 0;
        const auto [ptr, ec] = std::from_chars(bytes.data() + at, bytes.data() + size_end, size, 16);
        if (ec != std::errc() || ptr != bytes.data() + size_end) {
          out.malformed = true;
          return out;
        }
        if (size == 0) {
          // The trailer section ends at the first empty line.
          if (const auto blank = bytes.find("\r\n\r\n", size_end); blank != std::string_view::npos) {
            at = blank + 4;
            complete = true;
          }
          break;
        }
        if (size_end + 2 + size + 2 > bytes.size()) break;
        if (bytes.substr(size_end + 2 + size, 2) != "\r\n") {
          out.malformed = true;
          return out;
        }
        r.body.append(bytes.substr(size_end + 2, size));
        at = size_end + 2 + size + 2;
      }
      if (!complete) break;
      pos = at;
      out.responses.push_back(std::move(r));
      continue;
    }
    if (auto cl = r.header("Content-Length"); cl && !bodiless) {
      std::from_chars(cl->data(), cl->data() + cl->size(), length);
    }
    if (body_start + length > bytes.size()) break;
    r.body = std::string(bytes.substr(body_start, length));
    pos = body_start + length;
    out.responses.push_back(std::move(r));
  }
  if (keep_rest) out.rest = std::string(bytes.substr(pos));
  return out;
}

}  // namespace hive::test

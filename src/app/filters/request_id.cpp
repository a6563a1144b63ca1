#include "hive/filters/request_id.hpp"

#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <stdexcept>

#include "app/response_fields.hpp"
#include "util/text.hpp"

namespace hive::filters {

namespace {

constexpr char hex_digits[] = "0123456789abcdef";

// A worker's ids: 12 random hex digits chosen when the process first makes one (after the fork,
// so each worker has its own), then a counter. 2^48 prefixes make a clash between two workers or
// restarts negligible; the counter makes one impossible within a process.
struct id_maker {
  pid_t pid = 0;
  char prefix[12] = {};
  std::uint64_t next = 0;

  std::string make() {
    if (pid != ::getpid()) {  // first use, or a process forked since
      pid = ::getpid();
      unsigned char r[6] = {};
      if (::getrandom(r, sizeof r, 0) != static_cast<ssize_t>(sizeof r)) {
        const auto x = static_cast<std::uint64_t>(pid) * 0x9e3779b97f4a7c15ull ^ static_cast<std::uint64_t>(::time(nullptr));
        for (int i = 0; i < 6; ++i) r[i] = static_cast<unsigned char>(x >> (8 * i));
      }
      for (int i = 0; i < 6; ++i) {
        prefix[2 * i] = hex_digits[r[i] >> 4];
        prefix[2 * i + 1] = hex_digits[r[i] & 15];
      }
      next = 0;
    }
    char buf[12 + 1 + 16];
    std::copy(prefix, prefix + 12, buf);
    buf[12] = '-';
    std::uint64_t n = next++;
    int len = 0;
    char digits[16];
    do {
      digits[len++] = hex_digits[n & 15];
      n >>= 4;
    } while (n != 0);
    for (int i = 0; i < len; ++i) buf[13 + i] = digits[len - 1 - i];
    return std::string(buf, 13 + static_cast<std::size_t>(len));
  }
};

id_maker& maker() {
  static id_maker m;  // one per process; a worker is single-threaded
  return m;
}

bool id_char(char c) {
  return detail::is_digit(c) || detail::is_alpha(c) || c == '-' || c == '_' || c == '.' || c == ':' ||
         c == '+' || c == '/' || c == '=' || c == '@';
}

}  // namespace

bool valid_request_id(std::string_view id, std::size_t max_length) {
  if (id.empty() || id.size() > max_length) return false;
  for (char c : id) {
    if (!id_char(c)) return false;
  }
  return true;
}

std::string_view request_id_of(const request& req, const response& res, std::string_view header) {
  if (auto v = detail::response_field(res, header)) return *v;
  return req.header(header).value_or(std::string_view{});
}

filter request_id(request_id_options o) {
  if (!detail::is_token(o.header)) throw std::invalid_argument("hive: request_id: '" + o.header + "' is not a header name");
  if (o.max_length == 0) throw std::invalid_argument("hive: request_id: max_length must be at least 1");
  auto c = std::make_shared<const request_id_options>(std::move(o));
  // before(): the handler can read the id from the response; after(): hive's own answers (which
  // start from a fresh response) carry it too.
  auto stamp = [c](const request& req, response& res) {
    if (detail::response_field(res, c->header)) return;
    const auto incoming = req.header(c->header);
    if (incoming && valid_request_id(*incoming, c->max_length)) {
      res.header(c->header, *incoming);
    } else {
      res.header(c->header, maker().make());
    }
  };
  filter f;
  f.before = [stamp](const request& req, response& res) {
    stamp(req, res);
    return filter_result::next;
  };
  f.after = stamp;
  return f;
}

}  // namespace hive::filters

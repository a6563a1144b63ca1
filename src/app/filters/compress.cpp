#include "hive/filters/compress.hpp"

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "app/coding/accept_encoding.hpp"
#include "app/coding/body_coder.hpp"
#include "app/response_access.hpp"
#include "app/response_fields.hpp"
#include "util/text.hpp"

namespace hive::filters {

namespace {

using detail::coding;
using detail::iequals;

constexpr coding all_codings[] = {coding::zstd, coding::br, coding::gzip};
// A coded body kept as the worker's scratch above this is freed, as response::reset frees bodies.
constexpr std::size_t keep_scratch_bytes = 256 * 1024;

// "type/subtype", "type/*" or "type/*+suffix" (the suffix kept with its '+').
struct type_pattern {
  std::string type, subtype;
  bool any_subtype = false;
  bool by_suffix = false;

  bool matches(std::string_view t, std::string_view sub) const {
    if (!iequals(t, type)) return false;
    if (any_subtype) return true;
    if (by_suffix) return sub.size() > subtype.size() && iequals(sub.substr(sub.size() - subtype.size()), subtype);
    return iequals(sub, subtype);
  }
};

type_pattern parse_pattern(const std::string& text) {
  const auto slash = text.find('/');
  const std::string_view t = std::string_view(text).substr(0, slash);
  const std::string_view sub = slash == std::string::npos ? std::string_view() : std::string_view(text).substr(slash + 1);
  type_pattern p;
  p.type = t;
  if (sub == "*") {
    p.any_subtype = true;
  } else if (sub.starts_with("*+")) {
    p.by_suffix = true;
    p.subtype = sub.substr(1);  // "+json"
  } else {
    p.subtype = sub;
  }
  const std::string_view check = p.by_suffix ? std::string_view(p.subtype).substr(1) : std::string_view(p.subtype);
  if (!detail::is_token(t) || t == "*" || (!p.any_subtype && (!detail::is_token(check) || check.find('*') != std::string_view::npos))) {
    throw std::invalid_argument("hive: compress: media type pattern '" + text +
                                "' is not type/subtype, type/* or type/*+suffix");
  }
  return p;
}

int checked_level(int v, int lo, int hi, const char* what) {
  if (v < lo || v > hi) {
    throw std::invalid_argument(std::string("hive: compress: ") + what + " " + std::to_string(v) + " is outside " +
                                std::to_string(lo) + ".." + std::to_string(hi));
  }
  return v;
}

struct compress_config {
  std::vector<coding> offered;  // what the options ask for and this build has, best first
  std::vector<coding> stream_offered;  // the same, for streamed bodies
  std::vector<type_pattern> types;
  std::size_t min_bytes = 0;
  int gzip_level = 0, brotli_quality = 0, zstd_level = 0, stream_window_log = 0;

  bool compressible(std::string_view content_type) const {
    const std::string_view media = detail::trim_ows(content_type.substr(0, content_type.find(';')));
    const auto slash = media.find('/');
    if (slash == std::string_view::npos) return false;
    const std::string_view t = media.substr(0, slash), sub = media.substr(slash + 1);
    for (const auto& p : types) {
      if (p.matches(t, sub)) return true;
    }
    return false;
  }

  detail::coder_settings settings(coding c, std::size_t size) const {
    detail::coder_settings s;
    s.size = size;
    switch (c) {
      case coding::gzip:
        s.level = gzip_level;
        s.window_log = size != 0 ? detail::window_log_for(size, 15) : stream_window_log;
        break;
      case coding::br:
        s.level = brotli_quality;
        s.window_log = size != 0 ? detail::window_log_for(size, 22) : stream_window_log;
        break;
      case coding::zstd:
        s.level = zstd_level;
        s.window_log = stream_window_log;  // a known size sizes zstd's window itself
        break;
      case coding::identity:
        break;
    }
    return s;
  }
};

// `Vary: Accept-Encoding`, unless the response varies on it (or on everything) already.
void add_vary(response& res) {
  if (auto v = detail::response_field(res, "Vary")) {
    bool has = false;
    detail::for_each_list_item(*v, [&](std::string_view item) {
      has = has || item == "*" || iequals(item, "accept-encoding");
    });
    if (has) return;
  }
  res.header("Vary", "Accept-Encoding");
}

// RFC 9110 §8.8.3: a strong validator names exact bytes; the coded body is other bytes, so its
// tag is weak (`W/"…"`). If-None-Match compares weakly, so revalidation still gets a 304.
void weaken_etag(response& res) {
  std::string& f = detail::response_access::fields(res);
  std::size_t at = 0;
  while (at < f.size()) {
    const auto eol = f.find("\r\n", at);
    const std::string_view line = std::string_view(f).substr(at, eol - at);
    const auto colon = line.find(':');
    if (colon != std::string_view::npos && iequals(line.substr(0, colon), "etag")) {
      const std::string_view value = detail::trim_ows(line.substr(colon + 1));
      if (!value.empty() && value.front() == '"') f.insert(static_cast<std::size_t>(value.data() - f.data()), "W/");
      return;
    }
    if (eol == std::string::npos) return;
    at = eol + 2;
  }
}

void mark_coded(response& res, coding c) {
  res.header("Content-Encoding", detail::coding_name(c));
  add_vary(res);
  weaken_etag(res);
}

// A body in memory: coded whole, into the worker's scratch, then swapped in. A coding that does
// not make it smaller is not used, unless the client refused identity (`must`).
void code_body(const compress_config& cfg, coding c, bool must, response& res) {
  thread_local std::string scratch;
  const std::string_view body = res.body_bytes();
  auto coder = detail::make_coder(c, cfg.settings(c, body.size()));
  scratch.clear();
  if (!coder || !coder->code(body, true, scratch) || (scratch.size() >= body.size() && !must)) {
    add_vary(res);
    return;
  }
  detail::response_access::swap_body(res, scratch);
  if (scratch.capacity() > keep_scratch_bytes) std::string().swap(scratch);
  mark_coded(res, c);
}

void after(const compress_config& cfg, const request& req, response& res) {
  using kind = response::body_kind;
  const kind k = res.kind();
  // A file goes out by sendfile, untouched (static_files has precompressed siblings for that).
  // 204 and 304 have no body; a 206's ranges count bytes of the unencoded representation.
  if (k == kind::file || (cfg.offered.empty() && cfg.stream_offered.empty())) return;
  const int status = res.status();
  if (status == 204 || status == 206 || status == 304) return;
  if (!cfg.compressible(res.content_type())) return;
  if (detail::response_field(res, "Content-Encoding")) return;  // coded already
  const bool streamed = k == kind::stream;
  const auto fields = detail::accept_encoding_fields(req.headers());
  const auto choice = detail::negotiate(fields.lines(), streamed ? cfg.stream_offered : cfg.offered);
  const bool big_enough = streamed || res.body_size() >= cfg.min_bytes;
  if (!big_enough && !choice.identity_refused) return;  // nobody gets it coded: no Vary
  if (choice.pick == coding::identity || req.method() == "HEAD") {
    add_vary(res);
    return;
  }
  if (!streamed) {
    code_body(cfg, choice.pick, choice.identity_refused, res);
    return;
  }
  std::shared_ptr<detail::body_coder> coder = detail::make_coder(choice.pick, cfg.settings(choice.pick, 0));
  if (!coder) {
    add_vary(res);
    return;
  }
  detail::response_access::set_coder(res, std::move(coder));
  mark_coded(res, choice.pick);
}

// The named codings this build has, in order; throws for a name that is none.
std::vector<coding> available(const std::vector<std::string>& names) {
  std::vector<coding> out;
  for (const auto& name : names) {
    coding k;
    if (!detail::parse_coding(name, k) || k == coding::identity) {
      throw std::invalid_argument("hive: compress: unknown coding '" + name + "' (zstd, br or gzip)");
    }
    if (detail::coder_available(k)) out.push_back(k);
  }
  return out;
}

}  // namespace

std::vector<std::string_view> compress_codings() {
  std::vector<std::string_view> out;
  for (const coding c : all_codings) {
    if (detail::coder_available(c)) out.push_back(detail::coding_name(c));
  }
  return out;
}

filter compress(compress_options o) {
  auto c = std::make_shared<compress_config>();
  c->offered = available(o.codings);
  c->stream_offered = available(o.stream_codings);
  for (const auto& t : o.types) c->types.push_back(parse_pattern(t));
  c->min_bytes = o.min_bytes;
  c->gzip_level = checked_level(o.gzip_level, 1, 9, "gzip_level");
  c->brotli_quality = checked_level(o.brotli_quality, 0, 11, "brotli_quality");
  c->zstd_level = checked_level(o.zstd_level, 1, 19, "zstd_level");
  c->stream_window_log = checked_level(o.stream_window_log, 10, 15, "stream_window_log");
  filter f;
  f.after = [c](const request& req, response& res) { after(*c, req, res); };
  return f;
}

}  // namespace hive::filters

// app.static_files and hive::send_file: where a path may lead (never out of the root), the
// worker's short-lived cache of open files, and the answer RFC 9110 asks for.
#include "hive/static_files.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <ctime>
#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_map>

#include "app/coding/accept_encoding.hpp"
#include "app/file_rules.hpp"
#include "app/mime_types.hpp"
#include "hive/app.hpp"
#include "util/text.hpp"

namespace hive {

namespace {

// An open file and what answering for it needs, shared by the cache and the responses sending it.
struct open_file {
  int fd = -1;
  struct stat st {};
  std::string etag, last_modified;
  std::time_t modified = 0;  // what Last-Modified says, in seconds: the date validators compare
  ~open_file() {
    if (fd >= 0) ::close(fd);
  }
};
using file_ptr = std::shared_ptr<const open_file>;

// A mount. The root's descriptor is opened by each process that serves, at its first request: a
// descriptor opened before the workers fork would be closed in them (a worker keeps only its
// own), and its number reused by something else.
struct mount {
  std::string prefix;  // no trailing '/'; "" for the whole site
  std::string root;
  mutable int root_fd = -1;
  std::string root_real;  // for kernels without openat2
  static_options opts;
  std::string key;  // tells its cache entries from other mounts'
};

// Opens `rel` under the root, refusing any resolution that leaves it (`..`, absolute symlinks or
// symlinks pointing outside): the kernel checks each step with RESOLVE_BENEATH.
int open_beneath(const mount& m, const std::string& rel) {
  if (m.root_fd < 0) {
    m.root_fd = ::open(m.root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (m.root_fd < 0) return -1;  // gone since start-up: everything under it is 404
  }
  open_how how{};
  how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  const long fd = ::syscall(SYS_openat2, m.root_fd, rel.c_str(), &how, sizeof how);
  if (fd >= 0 || errno != ENOSYS) return static_cast<int>(fd);
  // No openat2 (Linux < 5.6): open, then check where the descriptor really is.
  const int f = ::openat(m.root_fd, rel.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (f < 0) return -1;
  char link[64], real[PATH_MAX];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", f);
  const ssize_t n = ::readlink(link, real, sizeof real - 1);
  const std::string_view where(real, n > 0 ? static_cast<std::size_t>(n) : 0);
  if (n <= 0 || !(where == m.root_real || (where.starts_with(m.root_real) && where[m.root_real.size()] == '/'))) {
    ::close(f);
    return -1;
  }
  return f;
}

file_ptr describe(int fd) {
  if (fd < 0) return nullptr;
  auto f = std::make_shared<open_file>();
  f->fd = fd;
  if (::fstat(fd, &f->st) != 0) return nullptr;
  const std::int64_t mtime_ns = static_cast<std::int64_t>(f->st.st_mtim.tv_sec) * 1'000'000'000 + f->st.st_mtim.tv_nsec;
  f->etag = detail::make_etag(f->st.st_ino, static_cast<std::uint64_t>(f->st.st_size), mtime_ns);
  // Never later than the response's Date (RFC 9110 §8.8.2.1). The worker refreshes its Date once
  // a second, so Date may still say the second before now: a file written this very second (or
  // with a clock ahead) says that earlier second. If-Modified-Since and the like compare with the
  // date sent, as clients expect; a change within that second still changes the ETag.
  f->modified = std::min<std::time_t>(f->st.st_mtim.tv_sec, std::time(nullptr) - 1);
  f->last_modified = detail::http_date(f->modified);
  return f;
}

// The worker's cache of open files (one per thread: a worker is one loop). Misses are cached
// too, so that a missing `.br` sibling costs no open per request either.
struct cache_entry {
  file_ptr file;
  std::chrono::steady_clock::time_point until;
};
constexpr std::size_t cache_entries = 1024;

template <class Open>
file_ptr open_cached(const std::string& key, std::chrono::milliseconds ttl, Open&& open) {
  if (ttl.count() <= 0) return describe(open());
  thread_local std::unordered_map<std::string, cache_entry> cache;
  const auto now = std::chrono::steady_clock::now();
  if (auto it = cache.find(key); it != cache.end()) {
    if (now < it->second.until) return it->second.file;
    cache.erase(it);
  }
  auto f = describe(open());
  if (cache.size() >= cache_entries) {
    std::erase_if(cache, [&](const auto& e) { return e.second.until <= now; });
    if (cache.size() >= cache_entries) cache.clear();
  }
  cache.emplace(key, cache_entry{f, now + ttl});
  return f;
}

bool regular(const file_ptr& f) { return f && S_ISREG(f->st.st_mode); }

void not_found(response& res) { res.status(404).text("Not Found\n"); }

// The answer for one regular file: validators, conditionals, the range, the body by sendfile.
void answer(const request& req, response& res, const file_ptr& f, std::string_view type,
            std::string_view encoding, const static_options& o) {
  const std::uint64_t size = static_cast<std::uint64_t>(f->st.st_size);
  const detail::validators v{f->etag, f->modified};
  const bool get_or_head = req.method() == "GET" || req.method() == "HEAD";
  res.header("ETag", f->etag);
  res.header("Last-Modified", f->last_modified);
  if (!o.cache_control.empty()) res.header("Cache-Control", o.cache_control);
  if (o.precompressed) res.header("Vary", "Accept-Encoding");
  detail::conditional_headers c{req.header("If-Match"), req.header("If-None-Match"),
                                req.header("If-Modified-Since"), req.header("If-Unmodified-Since")};
  switch (detail::evaluate(c, v, get_or_head)) {
    case detail::precondition::not_modified:
      res.status(304);
      return;
    case detail::precondition::failed:
      res.status(412).text("Precondition Failed\n");
      return;
    case detail::precondition::proceed:
      break;
  }
  res.header("Accept-Ranges", "bytes");
  if (!encoding.empty()) res.header("Content-Encoding", encoding);
  std::uint64_t offset = 0, length = size;
  const auto range = req.method() == "GET" ? req.header("Range") : std::nullopt;
  const auto if_range = req.header("If-Range");
  if (range && (!if_range || detail::if_range_holds(*if_range, v))) {
    const auto r = detail::parse_range(*range, size);
    switch (r.kind) {
      case detail::range_kind::single: {
        offset = r.range.first;
        length = r.range.length;
        res.status(206);
        res.header("Content-Range", "bytes " + std::to_string(offset) + "-" + std::to_string(offset + length - 1) +
                                        "/" + std::to_string(size));
        break;
      }
      case detail::range_kind::unsatisfiable:
        res.status(416);
        res.header("Content-Range", "bytes */" + std::to_string(size));
        res.body({}, type);
        return;
      case detail::range_kind::several:  // the whole file: see static_files.hpp
      case detail::range_kind::none:
        break;
    }
  }
  res.file_range(f->fd, offset, length, f, type);
}

// A found regular file, or one of its precompressed siblings when the client takes it.
template <class Lookup>
void answer_with_siblings(const request& req, response& res, const file_ptr& f, std::string_view name,
                          const static_options& o, Lookup&& lookup) {
  const std::string& type = detail::content_type_for(name);
  const auto fields = o.precompressed ? detail::accept_encoding_fields(req.headers()) : detail::accept_fields{};
  const bool asks = std::any_of(fields.one, fields.one + fields.n, [](std::string_view v) { return !v.empty(); });
  if (asks) {
    file_ptr br = lookup(".br"), zst = lookup(".zst"), gz = lookup(".gz");
    detail::coding offered[3];  // on a tie: br, then zstd, then gzip
    std::size_t n = 0;
    if (regular(br)) offered[n++] = detail::coding::br;
    if (regular(zst)) offered[n++] = detail::coding::zstd;
    if (regular(gz)) offered[n++] = detail::coding::gzip;
    switch (detail::negotiate(fields.lines(), {offered, n}).pick) {
      case detail::coding::br: return answer(req, res, br, type, "br", o);
      case detail::coding::zstd: return answer(req, res, zst, type, "zstd", o);
      case detail::coding::gzip: return answer(req, res, gz, type, "gzip", o);
      case detail::coding::identity: break;
    }
  }
  answer(req, res, f, type, {}, o);
}

// What a client's path names under the mount: each segment percent-decoded on its own, so that
// an encoded '/' cannot join two; nullopt for anything that could leave the root or reach a
// hidden file.
std::optional<std::string> relative_path(std::string_view rest, bool& names_dir) {
  names_dir = rest.empty() || rest.back() == '/';
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  std::string rel, segment;
  while (!rest.empty()) {
    const auto slash = rest.find('/');
    const auto raw = rest.substr(0, slash);
    segment.clear();
    if (raw.empty() || !detail::percent_decode(raw, segment, false)) return std::nullopt;
    if (segment.front() == '.' || segment.find_first_of(std::string_view("/\\\0", 3)) != std::string::npos) {
      return std::nullopt;
    }
    if (!rel.empty()) rel += '/';
    rel += segment;
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  return rel;
}

void serve_mount(const mount& m, const request& req, response& res) {
  std::string_view rest = req.path().substr(m.prefix.size());
  if (rest.empty()) {  // "/assets": its directory
    std::string to(req.path());
    to += '/';
    if (!req.query_string().empty()) to.append("?").append(req.query_string());
    return res.redirect(to, 301);
  }
  rest.remove_prefix(1);
  bool names_dir = false;
  const auto rel = relative_path(rest, names_dir);
  if (!rel) return not_found(res);
  const auto lookup = [&](const std::string& path) {
    return open_cached(m.key + path, m.opts.cache_for,
                       [&] { return open_beneath(m, path.empty() ? std::string(".") : path); });
  };
  file_ptr f = lookup(*rel);
  if (!f) return not_found(res);
  std::string name = *rel;
  if (S_ISDIR(f->st.st_mode)) {
    if (!names_dir) {
      std::string to(req.path());
      to += '/';
      if (!req.query_string().empty()) to.append("?").append(req.query_string());
      return res.redirect(to, 301);
    }
    if (m.opts.index.empty()) return not_found(res);
    name = rel->empty() ? m.opts.index : *rel + "/" + m.opts.index;
    f = lookup(name);
  } else if (names_dir) {
    return not_found(res);  // "file.txt/"
  }
  if (!regular(f)) return not_found(res);
  answer_with_siblings(req, res, f, name, m.opts, [&](std::string_view ext) { return lookup(name + std::string(ext)); });
}

}  // namespace

void send_file(const request& req, response& res, const std::string& path, const static_options& o) {
  const auto lookup = [&](const std::string& p) {
    return open_cached("\x01" + p, o.cache_for,
                       [&] { return ::open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK); });
  };
  const file_ptr f = lookup(path);
  if (!regular(f)) return not_found(res);
  answer_with_siblings(req, res, f, path, o, [&](std::string_view ext) { return lookup(path + std::string(ext)); });
}

app& app::static_files(std::string_view prefix, const std::string& root, const static_options& o) {
  auto m = std::make_shared<mount>();
  m->prefix = std::string(prefix);
  while (!m->prefix.empty() && m->prefix.back() == '/') m->prefix.pop_back();
  if (!m->prefix.empty() && m->prefix.front() != '/') {
    throw std::invalid_argument("hive: static_files prefix '" + std::string(prefix) + "' must start with '/'");
  }
  // Checked now, so a wrong root fails at start-up; opened for serving in each worker.
  const int check = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (check < 0) {
    throw std::invalid_argument("hive: static_files root '" + root + "' is not a directory that can be opened");
  }
  ::close(check);
  m->root = root;
  char real[PATH_MAX];
  if (::realpath(root.c_str(), real) != nullptr) m->root_real = real;
  m->opts = o;
  static int mounts = 0;
  m->key = std::to_string(++mounts) + '\0';
  auto h = [m](const request& req, response& res) { serve_mount(*m, req, res); };
  get(m->prefix + "/*", h);
  if (!m->prefix.empty()) get(m->prefix, h);
  return *this;
}

}  // namespace hive

#include "hive/options.hpp"

#include "hive/filters/rate_limit.hpp"

#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "util/cidr.hpp"

namespace hive {

namespace {

using std::chrono::milliseconds;

// "8KiB", "1MiB", "16k", "512" (bytes); at most what std::size_t holds.
std::size_t parse_size(std::string_view v) {
  std::uint64_t n = 0;
  const auto r = std::from_chars(v.data(), v.data() + v.size(), n);
  if (r.ptr == v.data()) throw std::invalid_argument("not a size");
  std::string unit(r.ptr, v.data() + v.size());
  for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::uint64_t mul = 1;
  if (unit.empty() || unit == "b") mul = 1;
  else if (unit == "k" || unit == "kb" || unit == "kib") mul = 1024;
  else if (unit == "m" || unit == "mb" || unit == "mib") mul = 1024 * 1024;
  else if (unit == "g" || unit == "gb" || unit == "gib") mul = 1024ull * 1024 * 1024;
  else throw std::invalid_argument("unknown size unit");
  constexpr std::uint64_t max = std::numeric_limits<std::size_t>::max();
  if (r.ec == std::errc::result_out_of_range || n > max / mul) {
    throw std::invalid_argument("too big; at most " + std::to_string(max) + " bytes");
  }
  return static_cast<std::size_t>(n * mul);
}

// A worker budget: a size, and at least enough for a few connections' buffers.
std::size_t parse_budget(std::string_view v) {
  constexpr std::size_t least = 1024 * 1024;
  const std::size_t n = parse_size(v);
  if (n < least) throw std::invalid_argument("less than 1MiB, the least a worker budget may be");
  return n;
}

std::string show_days(milliseconds d) {
  return std::to_string(d / std::chrono::hours(24)) + " days";
}

// "10s", "500ms", "2m", "12h", "10" (seconds); more than zero, at most options::max_duration.
milliseconds parse_duration(std::string_view v) {
  std::uint64_t n = 0;
  const auto r = std::from_chars(v.data(), v.data() + v.size(), n);
  if (r.ptr == v.data()) throw std::invalid_argument("not a duration");
  const std::string_view unit(r.ptr, static_cast<std::size_t>(v.data() + v.size() - r.ptr));
  std::uint64_t unit_ms;
  if (unit.empty() || unit == "s") unit_ms = 1000;
  else if (unit == "ms") unit_ms = 1;
  else if (unit == "m") unit_ms = 60'000;
  else if (unit == "h") unit_ms = 3'600'000;
  else throw std::invalid_argument("unknown duration unit");
  // Checked before multiplying: the product must neither wrap uint64 nor the signed count.
  constexpr auto max_ms = static_cast<std::uint64_t>(options::max_duration.count());
  if (r.ec == std::errc::result_out_of_range || n > max_ms / unit_ms) {
    throw std::invalid_argument("longer than " + show_days(options::max_duration) +
                                ", the most a duration may be");
  }
  if (n == 0) throw std::invalid_argument("must be more than zero");
  return milliseconds(static_cast<milliseconds::rep>(n * unit_ms));
}

// "10.0.0.0/8, ::1" → {"10.0.0.0/8", "::1"}, each entry checked; "" → none.
std::vector<std::string> parse_cidr_list(std::string_view v) {
  auto trim = [](std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
  };
  std::vector<std::string> out;
  if (trim(v).empty()) return out;
  for (;;) {
    const auto comma = v.find(',');
    const std::string_view entry = trim(v.substr(0, comma));
    if (entry.empty()) throw std::invalid_argument("an empty entry; separate CIDRs with one comma");
    out.emplace_back(entry);
    if (comma == std::string_view::npos) break;
    v.remove_prefix(comma + 1);
  }
  detail::cidr_set check(out);  // throws naming the first bad entry
  return out;
}

std::string show_list(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& e : v) s += (s.empty() ? "" : ",") + e;
  return s.empty() ? "(none)" : s;
}

long parse_int(std::string_view v, long lo, long hi) {
  long n = 0;
  const auto r = std::from_chars(v.data(), v.data() + v.size(), n);
  if (r.ec != std::errc() || r.ptr != v.data() + v.size() || n < lo || n > hi) {
    throw std::invalid_argument("out of range " + std::to_string(lo) + ".." + std::to_string(hi));
  }
  return n;
}

// An operations path: "" (off) or an absolute path with no query.
std::string parse_ops_path(std::string_view v) {
  if (v.empty()) return {};
  if (v.front() != '/' || v.find_first_of("?# ") != std::string_view::npos) {
    throw std::invalid_argument("not a path starting with '/' (no query); empty turns it off");
  }
  return std::string(v);
}

std::string show_path(const std::string& p) { return p.empty() ? std::string("(off)") : p; }

struct flag {
  const char* name;  // without the leading --
  const char* env;
  const char* help;
  std::function<void(options&, std::string_view)> set;
  std::function<std::string(const options&)> show;
};

std::string show_size(std::size_t n) {
  if (n % (1024 * 1024) == 0) return std::to_string(n / (1024 * 1024)) + "MiB";
  if (n % 1024 == 0) return std::to_string(n / 1024) + "KiB";
  return std::to_string(n);
}

std::string show_ms(milliseconds d) {
  if (d.count() % 3'600'000 == 0) return std::to_string(d.count() / 3'600'000) + "h";
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

// "api.example.com=FILE" names an SNI certificate or key: the entry for that name, made if new.
// A value is a name's only when what precedes '=' is a host name (or "*." and one), so a plain
// path with '=' in it stays a path.
options::tls_name* sni_entry(options& o, std::string_view v) {
  const auto eq = v.find('=');
  if (eq == std::string_view::npos || eq == 0) return nullptr;
  std::string host(v.substr(0, eq));
  const std::string_view rest = std::string_view(host).substr(host.starts_with("*.") ? 2 : 0);
  if (rest.empty()) return nullptr;
  for (char& c : host) {
    const auto u = static_cast<unsigned char>(c);
    if (!std::isalnum(u) && c != '-' && c != '.' && !(c == '*' && &c == host.data())) return nullptr;
    c = static_cast<char>(std::tolower(u));
  }
  if (rest.front() == '.' || rest.back() == '.' || rest.find("..") != std::string_view::npos ||
      rest.find('*') != std::string_view::npos) {
    throw std::invalid_argument("not a host name before '='");
  }
  if (v.size() == eq + 1) throw std::invalid_argument("no file after '='");
  for (auto& n : o.tls_names) {
    if (n.host == host) return &n;
  }
  return &o.tls_names.emplace_back(options::tls_name{std::move(host), {}, {}});
}

std::string show_tls(const options& o, std::string options::tls_name::*file, const std::string& main) {
  std::string s = main;
  for (const auto& n : o.tls_names) s += ", " + n.host + "=" + n.*file;
  return s;
}

#define HIVE_SIZE_FLAG(field, name, env, help)                                         \
  flag {                                                                               \
    name, env, help, [](options& o, std::string_view v) { o.field = parse_size(v); },  \
        [](const options& o) { return show_size(o.field); }                            \
  }
#define HIVE_TIME_FLAG(field, name, env, help)                                             \
  flag {                                                                                   \
    name, env, help, [](options& o, std::string_view v) { o.field = parse_duration(v); },  \
        [](const options& o) { return show_ms(o.field); }                                  \
  }

const std::vector<flag>& flags() {
  static const std::vector<flag> all = {
      {"host", "HIVE_HOST", "address to listen on (IPv4 or IPv6)",
       [](options& o, std::string_view v) { o.host = v; },
       [](const options& o) { return o.host; }},
      {"port", "HIVE_PORT", "TCP port (0: any free port)",
       [](options& o, std::string_view v) { o.port = static_cast<std::uint16_t>(parse_int(v, 0, 65535)); },
       [](const options& o) { return std::to_string(o.port); }},
      {"workers", "HIVE_WORKERS", "worker processes; 0 serves in this process",
       [](options& o, std::string_view v) {
         o.workers = v == "auto" ? -1 : static_cast<int>(parse_int(v, 0, 1024));
       },
       [](const options& o) { return o.workers < 0 ? std::string("auto (CPUs usable)") : std::to_string(o.workers); }},
      {"server-name", "HIVE_SERVER_NAME", "Server header value; empty sends none",
       [](options& o, std::string_view v) { o.server_name = v; },
       [](const options& o) { return o.server_name.empty() ? std::string("(none)") : o.server_name; }},
      {"trusted-proxies", "HIVE_TRUSTED_PROXIES", "proxy CIDRs, comma-separated (checked; not used yet)",
       [](options& o, std::string_view v) { o.trusted_proxies = parse_cidr_list(v); },
       [](const options& o) { return show_list(o.trusted_proxies); }},
      {"tls-cert", "HIVE_TLS_CERT",
       "PEM certificate chain (leaf first): every listener speaks TLS; NAME=FILE for SNI, repeatable",
       [](options& o, std::string_view v) {
         if (auto* n = sni_entry(o, v)) n->cert_file = v.substr(v.find('=') + 1);
         else o.tls_cert_file = v;
       },
       [](const options& o) { return o.tls_cert_file.empty() ? std::string("(none: plain HTTP)") : show_tls(o, &options::tls_name::cert_file, o.tls_cert_file); }},
      {"tls-key", "HIVE_TLS_KEY", "PEM private key for --tls-cert; NAME=FILE for SNI",
       [](options& o, std::string_view v) {
         if (auto* n = sni_entry(o, v)) n->key_file = v.substr(v.find('=') + 1);
         else o.tls_key_file = v;
       },
       [](const options& o) { return o.tls_key_file.empty() ? std::string("(none)") : show_tls(o, &options::tls_name::key_file, o.tls_key_file); }},
      {"tls-min-version", "HIVE_TLS_MIN_VERSION", "oldest TLS version accepted: 1.2 or 1.3",
       [](options& o, std::string_view v) {
         if (v == "1.2") o.tls_min_version = options::tls_version::tls1_2;
         else if (v == "1.3") o.tls_min_version = options::tls_version::tls1_3;
         else throw std::invalid_argument("not 1.2 or 1.3");
       },
       [](const options& o) { return std::string(o.tls_min_version == options::tls_version::tls1_3 ? "1.3" : "1.2"); }},
      HIVE_TIME_FLAG(tls_ticket_rotation, "tls-ticket-rotation", "HIVE_TLS_TICKET_ROTATION",
                     "session-ticket keys replaced this often (tickets resume for twice it)"),
      {"tls-tickets", "HIVE_TLS_TICKETS", "session resumption by tickets: on, or off (full handshakes only)",
       [](options& o, std::string_view v) {
         if (v == "on") o.tls_tickets = true;
         else if (v == "off") o.tls_tickets = false;
         else throw std::invalid_argument("not on or off");
       },
       [](const options& o) { return std::string(o.tls_tickets ? "on" : "off"); }},
      {"tls-kernel", "HIVE_TLS_KERNEL", "kernel TLS (sendfile over HTTPS): auto (where supported) or off",
       [](options& o, std::string_view v) {
         if (v == "auto") o.tls_kernel = true;
         else if (v == "off") o.tls_kernel = false;
         else throw std::invalid_argument("not auto or off");
       },
       [](const options& o) { return std::string(o.tls_kernel ? "auto" : "off"); }},
      HIVE_SIZE_FLAG(max_request_line_bytes, "max-request-line", "HIVE_MAX_REQUEST_LINE",
                     "longest request target (414 past it)"),
      HIVE_SIZE_FLAG(max_header_bytes, "max-header-bytes", "HIVE_MAX_HEADER_BYTES",
                     "largest header section (431 past it)"),
      {"max-header-count", "HIVE_MAX_HEADER_COUNT", "most header fields (431 past it)",
       [](options& o, std::string_view v) { o.max_header_count = static_cast<std::size_t>(parse_int(v, 1, 10000)); },
       [](const options& o) { return std::to_string(o.max_header_count); }},
      HIVE_SIZE_FLAG(max_body_bytes, "max-body", "HIVE_MAX_BODY", "largest request body (413 past it)"),
      {"max-worker-input", "HIVE_MAX_WORKER_INPUT",
       "request bytes all connections buffer (the greediest close past it)",
       [](options& o, std::string_view v) { o.max_worker_input_bytes = parse_budget(v); },
       [](const options& o) { return show_size(o.max_worker_input_bytes); }},
      {"max-worker-output", "HIVE_MAX_WORKER_OUTPUT",
       "unsent output all connections hold (the greediest close past it)",
       [](options& o, std::string_view v) { o.max_worker_output_bytes = parse_budget(v); },
       [](const options& o) { return show_size(o.max_worker_output_bytes); }},
      HIVE_TIME_FLAG(header_timeout, "header-timeout", "HIVE_HEADER_TIMEOUT",
                     "whole header section (408 past it)"),
      HIVE_TIME_FLAG(body_timeout, "body-timeout", "HIVE_BODY_TIMEOUT", "whole request body (408 past it)"),
      HIVE_TIME_FLAG(idle_timeout, "idle-timeout", "HIVE_IDLE_TIMEOUT", "idle keep-alive connection"),
      HIVE_TIME_FLAG(write_timeout, "write-timeout", "HIVE_WRITE_TIMEOUT",
                     "a client that stops reading its response"),
      {"max-restarts", "HIVE_MAX_RESTARTS", "crashes within --min-uptime before a slot is given up",
       [](options& o, std::string_view v) { o.max_restarts = static_cast<int>(parse_int(v, 0, 1000000)); },
       [](const options& o) { return std::to_string(o.max_restarts); }},
      HIVE_TIME_FLAG(min_uptime, "min-uptime", "HIVE_MIN_UPTIME", "a worker alive this long is stable"),
      HIVE_TIME_FLAG(heartbeat_timeout, "heartbeat-timeout", "HIVE_HEARTBEAT_TIMEOUT",
                     "a worker whose event loop is stuck this long is killed"),
      HIVE_TIME_FLAG(shutdown_timeout, "shutdown-timeout", "HIVE_SHUTDOWN_TIMEOUT",
                     "graceful stop: what is left is killed after it"),
      HIVE_TIME_FLAG(listen_timeout, "listen-timeout", "HIVE_LISTEN_TIMEOUT",
                     "reload and upgrade: new workers must be listening within it"),
      {"access-log", "HIVE_ACCESS_LOG", "access log format: off, common, combined or json",
       [](options& o, std::string_view v) {
         using f = options::access_log_format;
         if (v == "off") o.access_log = f::off;
         else if (v == "common") o.access_log = f::common;
         else if (v == "combined") o.access_log = f::combined;
         else if (v == "json") o.access_log = f::json;
         else throw std::invalid_argument("not off, common, combined or json");
       },
       [](const options& o) {
         constexpr const char* names[] = {"off", "common", "combined", "json"};
         return std::string(names[static_cast<int>(o.access_log)]);
       }},
      {"access-log-file", "HIVE_ACCESS_LOG_FILE", "where the access log goes: a path, or - for stdout",
       [](options& o, std::string_view v) {
         if (v.empty()) throw std::invalid_argument("empty; - is stdout");
         o.access_log_file = v;
       },
       [](const options& o) { return o.access_log_file; }},
      {"rate-limit", "HIVE_RATE_LIMIT", "requests per client for filters::rate_limit: N/s, N/m or N/h",
       [](options& o, std::string_view v) {
         if (!v.empty()) (void)filters::rate_limit_options::parse(v);
         o.rate_limit = v;
       },
       [](const options& o) { return o.rate_limit.empty() ? std::string("(none)") : o.rate_limit; }},
      {"metrics-path", "HIVE_METRICS_PATH", "Prometheus metrics at this path (hive's own route)",
       [](options& o, std::string_view v) { o.metrics_path = parse_ops_path(v); },
       [](const options& o) { return show_path(o.metrics_path); }},
      {"health-path", "HIVE_HEALTH_PATH", "liveness: 200 while the worker's loop runs",
       [](options& o, std::string_view v) { o.health_path = parse_ops_path(v); },
       [](const options& o) { return show_path(o.health_path); }},
      {"ready-path", "HIVE_READY_PATH", "readiness: 200 when every slot listens, else 503",
       [](options& o, std::string_view v) { o.ready_path = parse_ops_path(v); },
       [](const options& o) { return show_path(o.ready_path); }},
      {"user", "HIVE_USER", "workers drop to this user (started as root)",
       [](options& o, std::string_view v) { o.user = v; },
       [](const options& o) { return o.user.empty() ? std::string("(none)") : o.user; }},
      {"group", "HIVE_GROUP", "and this group (default: the user's)",
       [](options& o, std::string_view v) { o.group = v; },
       [](const options& o) { return o.group.empty() ? std::string("(the user's)") : o.group; }},
      {"pid-file", "HIVE_PID_FILE", "write the pid here once serving (handed over on SIGUSR2)",
       [](options& o, std::string_view v) { o.pid_file = v; },
       [](const options& o) { return o.pid_file.empty() ? std::string("(none)") : o.pid_file; }},
      {"log-format", "HIVE_LOG_FORMAT", "hive's own log lines: text or json",
       [](options& o, std::string_view v) {
         if (v == "text") o.log_format_kind = options::log_format::text;
         else if (v == "json") o.log_format_kind = options::log_format::json;
         else throw std::invalid_argument("not text or json");
       },
       [](const options& o) { return std::string(o.log_format_kind == options::log_format::json ? "json" : "text"); }},
  };
  return all;
}

const flag* find_flag(std::string_view name) {
  for (const auto& f : flags()) {
    if (name == f.name) return &f;
  }
  return nullptr;
}

void apply(options& o, const flag& f, std::string_view value, std::string_view source) {
  try {
    f.set(o, value);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument("hive: bad value '" + std::string(value) + "' for " +
                                std::string(source) + " (" + e.what() + "); see --help");
  }
}

// Flags over HIVE_* variables over the defaults. Without `rest` anything hive does not know is
// refused; with it, unknown flags, positional arguments and everything from `--` on are kept
// there, in order, for the application's own parser.
options parse_args(int argc, const char* const* argv, std::vector<std::string>* rest) {
  options o;
  for (const auto& f : flags()) {
    if (const char* v = std::getenv(f.env)) apply(o, f, v, f.env);
  }
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (rest != nullptr && arg == "--") {
      // The `--` is kept too, so the application's parser also knows its flags end there.
      rest->insert(rest->end(), argv + i, argv + argc);
      break;
    }
    if (!arg.starts_with("--")) {
      if (rest != nullptr) {
        rest->emplace_back(arg);
        continue;
      }
      throw std::invalid_argument("hive: unexpected argument '" + std::string(arg) + "'; see --help");
    }
    arg.remove_prefix(2);
    std::string_view value;
    bool has_value = false;
    if (const auto eq = arg.find('='); eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_value = true;
    }
    const flag* f = find_flag(arg);
    if (f == nullptr) {
      if (rest != nullptr) {
        rest->emplace_back(argv[i]);
        continue;
      }
      throw std::invalid_argument("hive: unknown option --" + std::string(arg) + "; see --help");
    }
    if (!has_value) {
      if (i + 1 >= argc) {
        throw std::invalid_argument("hive: --" + std::string(arg) + " needs a value; see --help");
      }
      value = argv[++i];
    }
    apply(o, *f, value, "--" + std::string(arg));
  }
  return o;
}

// `--help` or `-h` among the arguments; with `stop_at_dashes`, only among those before `--`.
bool wants_help(int argc, char** argv, bool stop_at_dashes) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (stop_at_dashes && a == "--") return false;
    if (a == "--help" || a == "-h") return true;
  }
  return false;
}

[[noreturn]] void print_usage_and_exit(int argc, char** argv, std::string_view app_usage) {
  std::printf("Usage: %s [options]\n%s%.*s", argc > 0 ? argv[0] : "hive", options::usage().c_str(),
              static_cast<int>(app_usage.size()), app_usage.data());
  std::exit(0);
}

}  // namespace

std::string options::usage() {
  std::string s = "Options (flag, environment variable, default):\n";
  const options defaults;
  for (const auto& f : flags()) {
    std::string line = "  --";
    line += f.name;
    line.resize(std::max<std::size_t>(line.size() + 1, 22), ' ');
    line += f.env;
    line.resize(std::max<std::size_t>(line.size() + 1, 46), ' ');
    line += f.show(defaults);
    line.resize(std::max<std::size_t>(line.size() + 1, 62), ' ');
    line += f.help;
    s += line + "\n";
  }
  s += "Sizes take B, KiB, MiB, GiB (\"16KiB\"); durations take ms, s, m, h (\"500ms\", \"10s\")\n";
  s += "and may be at most " + show_days(max_duration) + " (" + std::to_string(max_duration.count() / 1000) + "s).\n";
  return s;
}

options options::parse(int argc, const char* const* argv) {
  return parse_args(argc, argv, nullptr);
}

options options::parse_known(int argc, const char* const* argv, std::vector<std::string>& rest) {
  return parse_args(argc, argv, &rest);
}

options options::from_args(int argc, char** argv) {
  if (wants_help(argc, argv, false)) print_usage_and_exit(argc, argv, {});
  try {
    return parse(argc, argv);
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "%s\n", e.what());
    std::exit(2);
  }
}

options options::from_args_known(int argc, char** argv, std::vector<std::string>& rest,
                                 std::string_view app_usage) {
  if (wants_help(argc, argv, true)) print_usage_and_exit(argc, argv, app_usage);
  try {
    return parse_known(argc, argv, rest);
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "%s\n", e.what());
    std::exit(2);
  }
}

}  // namespace hive

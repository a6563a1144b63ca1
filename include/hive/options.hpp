// hive::options — where to listen, how many workers, and the limits and timeouts that keep a
// worker safe on the open internet. Every field has a flag and a HIVE_* environment variable;
// `--help` lists them with their defaults.
//
//   auto opts = hive::options::from_args(argc, argv);   // exits 2 on a bad value
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hive {

struct options {
  std::string host = "0.0.0.0";
  std::uint16_t port = 8000;
  // -1: one worker per CPU this process may use; 0: serve in this process, no primary.
  int workers = -1;
  // Sent as the `Server` header; empty sends none.
  std::string server_name = "hive";
  // Peers whose X-Forwarded-For / Forwarded headers may be believed: CIDRs ("10.0.0.0/8",
  // "fd00::/8"; a bare address is /32 or /128), each checked when parsed. Empty: believe no
  // one, so a client cannot forge its address. request::client_address() reads them.
  std::vector<std::string> trusted_proxies;

  // TLS: with a certificate and key (PEM files), every listener speaks HTTPS. The primary loads
  // and checks both before forking (a missing file, a key that does not match, an expired
  // certificate, a chain that does not verify the leaf: exit 2). ALPN offers http/1.1; forward-secret AEAD ciphers only.
  std::string tls_cert_file;  // the leaf certificate first, then its chain
  std::string tls_key_file;
  // SNI: further certificates, each served to clients that ask for its name (exactly, or one
  // label under "*.example.com"); every other client gets the one above. As flags:
  // --tls-cert api.example.com=FILE --tls-key api.example.com=FILE.
  struct tls_name {
    std::string host;
    std::string cert_file;
    std::string key_file;
  };
  std::vector<tls_name> tls_names;
  enum class tls_version : unsigned char { tls1_2, tls1_3 };
  tls_version tls_min_version = tls_version::tls1_2;  // older clients get a protocol_version alert
  // Session-ticket keys are shared by every worker and replaced this often; a ticket opens with
  // the current or the previous key, so it resumes for up to twice this long.
  std::chrono::milliseconds tls_ticket_rotation{12 * 3600 * 1000};
  // Kernel TLS where the kernel (its tls module) and OpenSSL support it: the kernel encrypts the
  // records, and file bodies go out with sendfile over HTTPS too. false: never (--tls-kernel off).
  bool tls_kernel = true;
  // Session resumption by tickets; false: every connection makes a full handshake (as nginx's
  // `ssl_session_tickets off` with no session cache).
  bool tls_tickets = true;
  bool tls() const { return !tls_cert_file.empty(); }

  // Limits: each stops a client from making a worker hold memory it did not agree to.
  std::size_t max_request_line_bytes = 8 * 1024;   // 414 past it: long-URL floods
  std::size_t max_header_bytes = 16 * 1024;        // 431 past it: header bombs
  std::size_t max_header_count = 100;              // 431 past it: many tiny headers
  std::size_t max_body_bytes = 1024 * 1024;        // 413 past it, before reading when declared
  // Per worker, summed over its connections (each also capped on its own): past one, the
  // connections holding the most are closed until the sum is back under 90 % of it. >= 1 MiB.
  std::size_t max_worker_input_bytes = 64 * 1024 * 1024;   // partial heads and bodies: slowloris
  std::size_t max_worker_output_bytes = 64 * 1024 * 1024;  // queued copies: clients that never read

  // Timeouts: each bounds how long a connection may hold a worker's resources.
  std::chrono::milliseconds header_timeout{10'000};  // whole header section: slowloris → 408
  std::chrono::milliseconds body_timeout{30'000};    // whole body: slow uploads → 408
  std::chrono::milliseconds idle_timeout{5'000};     // keep-alive connection with no request
  std::chrono::milliseconds write_timeout{30'000};   // a client that does not read its response

  // Cluster supervision (hive::run).
  int max_restarts = 5;                                  // crashes within min_uptime before a slot is given up
  std::chrono::milliseconds min_uptime{10'000};          // a worker alive this long counts as stable
  std::chrono::milliseconds heartbeat_timeout{30'000};   // a loop silent this long is SIGKILLed
  std::chrono::milliseconds shutdown_timeout{30'000};    // SIGTERM: stragglers are SIGKILLed after it
  // Reload: a new worker must listen within it. Upgrade (SIGUSR2): the new primary's workers must
  // all listen within it, or the new primary is stopped and the old one keeps serving.
  std::chrono::milliseconds listen_timeout{10'000};

  // Access log: one line per response (hive's own answers included), per worker through a buffer
  // written every 100 ms or at 64 KiB, never one write per request. SIGUSR1 to the primary (or
  // to a --workers 0 process) reopens the file, for logrotate. A write that fails (full disk,
  // closed stdout) drops the lines and serving goes on.
  enum class access_log_format : unsigned char { off, common, combined, json };
  access_log_format access_log = access_log_format::off;
  std::string access_log_file = "-";  // a path (appended to), or "-" for stdout

  // --rate-limit "100/s", "20/m", "1000/h" (checked here; empty: none). hive does not apply it by
  // itself: give it to hive::filters::rate_limit_options::parse (see filters/rate_limit.hpp).
  std::string rate_limit;
  // Operations (all off by default). Each path is answered by hive itself, before the app's
  // routes and without its filters, to GET and HEAD (405 otherwise); "" turns it off.
  std::string metrics_path;  // Prometheus text exposition of hive's counters ("/metrics")
  std::string health_path;   // liveness: 200 while the answering worker's loop runs
  std::string ready_path;    // readiness: 200 when every slot listens; 503 starting, draining, given up
  enum class log_format : unsigned char { text, json };
  log_format log_format_kind = log_format::text;  // hive's own log lines on stderr
  // Cluster workers drop to this user (and its group, or `group`) before serving: setgroups,
  // setgid, setuid, checked. The primary keeps its ids, to bind and to read TLS keys. Empty:
  // workers run as started (a warning when that is root).
  std::string user;
  std::string group;
  // Written with the pid once every slot listens; removed on exit if it still names this process
  // (a binary upgrade's new primary writes its own, the old one leaves it). Empty: none.
  std::string pid_file;

  // The longest any duration above may be from a flag or variable (parse refuses more). A
  // deadline is "now + timeout" in int64 steady-clock milliseconds (nanoseconds in Asio's
  // timers): a year is far past any sane timeout and far from overflowing either, so the sums
  // need no check where they are made.
  static constexpr std::chrono::milliseconds max_duration = std::chrono::hours(24 * 365);

  // Parse flags (`--port 8080`, `--port=8080`) over HIVE_* environment variables over the
  // defaults. Prints usage and exits 0 on --help; prints the problem and exits 2 on a bad value.
  static options from_args(int argc, char** argv);
  // The same without exiting: throws std::invalid_argument with the message instead.
  static options parse(int argc, const char* const* argv);

  // For an application with flags of its own (named after Python's argparse.parse_known_args,
  // which does the same): hive's flags are parsed as above, and what hive does not know is
  // appended to `rest` in order instead of refused: unknown flags (as written, `--x=1` or `--x`
  // then its value as the next entry), positional arguments, and `--` with everything after it
  // (hive stops there; the `--` is kept so the application's parser stops there too). A value
  // for an application flag that itself starts with `--` must use the `--flag=value` form.
  // A bad value for one of hive's flags still exits 2 (throws, for parse_known). --help or -h
  // before `--` prints hive's usage followed by `app_usage` (the application's own options) and
  // exits 0.
  //
  //   std::vector<std::string> rest;
  //   auto opts = hive::options::from_args_known(argc, argv, rest, "App options:\n  --db PATH\n");
  //   // argv "--port 8080 --db x.db in.txt" → opts.port 8080, rest {"--db", "x.db", "in.txt"}
  static options from_args_known(int argc, char** argv, std::vector<std::string>& rest,
                                 std::string_view app_usage = {});
  static options parse_known(int argc, const char* const* argv, std::vector<std::string>& rest);
  static std::string usage();
};

}  // namespace hive

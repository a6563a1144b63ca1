// Operations over a real cluster: Prometheus metrics (format, sums, counters across a kill -9
// and a reload), liveness and readiness (503 at once on SIGTERM), answered without app filters.
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include <doctest/doctest.h>

#include "cluster_test_util.hpp"

using namespace hive::test;

namespace ops_test {

using series_map = std::map<std::string, double>;

// "name{labels} value" lines into a map; also checks what Prometheus's parser insists on: every
// sample's family has HELP and TYPE first, names and labels are well formed, values parse.
series_map parse_exposition(const std::string& text) {
  series_map out;
  std::map<std::string, std::string> types;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    REQUIRE(!line.empty());
    if (line.starts_with("# HELP ")) continue;
    if (line.starts_with("# TYPE ")) {
      std::istringstream t(line.substr(7));
      std::string name, type;
      t >> name >> type;
      CHECK(types.count(name) == 0);  // one family, one block
      types[name] = type;
      continue;
    }
    const auto space = line.rfind(' ');
    REQUIRE(space != std::string::npos);
    const std::string key = line.substr(0, space);
    const std::string value = line.substr(space + 1);
    char* end = nullptr;
    const double v = std::strtod(value.c_str(), &end);
    CHECK(*end == '\0');
    std::string name = key.substr(0, key.find('{'));
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string base = name.size() > std::strlen(suffix) && name.ends_with(suffix)
                                   ? name.substr(0, name.size() - std::strlen(suffix))
                                   : name;
      if (types.count(base) && types[base] == "histogram") name = base;
    }
    CHECK_MESSAGE(types.count(name) == 1, "no TYPE before " << line);
    CHECK(out.count(key) == 0);  // no series twice
    out[key] = v;
  }
  return out;
}

// Sum of every series whose key starts with `prefix`.
double sum_of(const series_map& m, const std::string& prefix) {
  double s = 0;
  for (const auto& [k, v] : m) {
    if (k.starts_with(prefix)) s += v;
  }
  return s;
}

series_map scrape(std::uint16_t port, const std::string& path = "/metrics") {
  const auto r = http_get(port, path);
  REQUIRE(r.ok);
  REQUIRE(r.res.status == 200);
  CHECK(r.res.header("Content-Type").value_or("").starts_with("text/plain; version=0.0.4"));
  return parse_exposition(r.res.body);
}

std::string promtool_path() {
  for (const char* p : {"/usr/bin/promtool", "/usr/local/bin/promtool"}) {
    if (::access(p, X_OK) == 0) return p;
  }
  return {};
}

// `promtool check metrics` says nothing and exits 0 (no errors, no lint warnings).
void check_with_promtool(const std::string& text) {
  const std::string promtool = promtool_path();
  REQUIRE_MESSAGE(!promtool.empty(), "promtool not installed: apt-get install prometheus (scripts/dev does)");
  char path[] = "/tmp/hive-metrics-XXXXXX";
  const int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  ::close(fd);
  const std::string cmd = promtool + " check metrics < " + path + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string said;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p) != nullptr) said += buf;
  const int st = ::pclose(p);
  ::unlink(path);
  CHECK_MESSAGE(said.empty(), said);
  CHECK(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 0);
}

// Counters (names ending _total, and histogram buckets, sums and counts) never fall.
void check_not_lower(const series_map& before, const series_map& after) {
  for (const auto& kv : before) {
    const std::string& k = kv.first;  // not a structured binding: clang 14's lambdas (doctest's) cannot capture one
    const auto v = kv.second;
    const std::string name = k.substr(0, k.find('{'));
    const bool counter = name.ends_with("_total") || name.ends_with("_bucket") ||
                         name.ends_with("_count") || name.ends_with("_sum");
    if (!counter) continue;
    const auto it = after.find(k);
    REQUIRE_MESSAGE(it != after.end(), k << " disappeared");
    CHECK_MESSAGE(it->second >= v, k << " went from " << v << " to " << it->second);
  }
}

}  // namespace ops_test

using namespace ops_test;

TEST_CASE("metrics: the text format, sums over workers, histograms that add up, promtool") {
  cluster_process c(fixture_args({"--metrics-path", "/metrics"}));
  const auto port = c.wait_listening();
  REQUIRE(port != 0);
  for (int i = 0; i < 40; ++i) REQUIRE(http_get(port, "/pid").res.status == 200);
  REQUIRE(http_post(port, "/pid", "x").res.status == 405);
  REQUIRE(http_get(port, "/nowhere").res.status == 404);
  const auto r = http_get(port, "/metrics");
  REQUIRE(r.ok);
  const series_map m = parse_exposition(r.res.body);
  // The scrape itself is counted only once answered: 42 requests before it.
  CHECK(sum_of(m, "hive_requests_total{") == 42);
  CHECK(sum_of(m, "hive_requests_total{worker=\"0\",method=\"GET\"}") +
            sum_of(m, "hive_requests_total{worker=\"1\",method=\"GET\"}") == 41);
  CHECK(sum_of(m, "hive_requests_total{worker=\"0\",method=\"POST\"}") +
            sum_of(m, "hive_requests_total{worker=\"1\",method=\"POST\"}") == 1);
  CHECK(sum_of(m, "hive_responses_total{") == 42);
  CHECK(sum_of(m, "hive_responses_total{worker=\"0\",code=\"4xx\"}") +
            sum_of(m, "hive_responses_total{worker=\"1\",code=\"4xx\"}") == 2);
  for (const char* w : {"0", "1"}) {
    const std::string lw = std::string("{worker=\"") + w + "\"";
    const double count = m.at("hive_request_duration_seconds_count" + lw + "}");
    CHECK(count == sum_of(m, "hive_requests_total" + lw + ","));
    CHECK(m.at("hive_request_duration_seconds_bucket" + lw + ",le=\"+Inf\"}") == count);
    CHECK(m.at("hive_worker_up" + lw + "}") == 1);
    CHECK(m.at("hive_worker_resident_memory_bytes" + lw + "}") > 0);
    CHECK(m.at("hive_worker_open_fds" + lw + "}") > 0);
    CHECK(m.at("hive_connections_accepted_total" + lw + "}") >= 1);
  }
  CHECK(sum_of(m, "hive_connections_accepted_total{") == 42 + 1);  // with the scrape's own
  CHECK(sum_of(m, "hive_received_bytes_total{") > 0);
  CHECK(sum_of(m, "hive_sent_bytes_total{") > 0);
  CHECK(m.at("hive_ready") == 1);
  CHECK(m.at("hive_reloads_total{result=\"done\"}") == 0);
  CHECK(sum_of(m, "hive_messages_dropped_total{") == 0);
  CHECK(m.count("hive_messages_dropped_total{worker=\"0\"}") == 1);
  // The mounted handler says the same (metrics_handler()).
  const series_map mounted = scrape(port, "/admin/metrics");
  CHECK(sum_of(mounted, "hive_requests_total{") == 43);

  check_with_promtool(r.res.body);
}

TEST_CASE("metrics: scrapes under load: well formed, never lower than the last, promtool") {
  cluster_process c(fixture_args({"--metrics-path", "/metrics"}));
  const auto port = c.wait_listening();
  REQUIRE(port != 0);
  std::atomic<bool> stop{false};
  std::atomic<int> served{0};
  std::vector<std::thread> load;
  for (int t = 0; t < 4; ++t) {
    load.emplace_back([&] {
      client k(port);
      while (!stop.load() && request_on(k, "GET", "/pid").ok) served.fetch_add(1);
    });
  }
  series_map last;
  std::string text;
  for (int i = 0; i < 10; ++i) {
    const auto r = http_get(port, "/metrics");
    REQUIRE(r.ok);
    text = r.res.body;
    const series_map now = parse_exposition(text);
    if (!last.empty()) check_not_lower(last, now);
    last = now;
    std::this_thread::sleep_for(20ms);
  }
  stop.store(true);
  for (auto& t : load) t.join();
  CHECK(served.load() > 0);
  CHECK(sum_of(last, "hive_requests_total{") > 0);
  check_with_promtool(text);
}

TEST_CASE("metrics: counters never go backwards across a kill -9 and a reload") {
  cluster_process c(fixture_args({"--metrics-path", "/metrics"}));
  const auto port = c.wait_listening();
  REQUIRE(port != 0);
  for (int i = 0; i < 30; ++i) REQUIRE(http_get(port, "/pid").ok);
  const series_map before = scrape(port);
  const auto pids = pids_by_slot(port);
  REQUIRE(pids.size() == 2);
  REQUIRE(::kill(pids.at(1), SIGKILL) == 0);
  REQUIRE(c.wait_for("worker for slot 1 listening", 10s, 1));
  const series_map after_kill = scrape(port);
  check_not_lower(before, after_kill);
  CHECK(after_kill.at("hive_worker_restarts_total{worker=\"1\"}") == 1);
  CHECK(after_kill.at("hive_worker_up{worker=\"1\"}") == 1);

  c.signal(SIGHUP);
  REQUIRE(c.wait_for("reload done"));
  const series_map after_reload = scrape(port);
  check_not_lower(after_kill, after_reload);
  CHECK(after_reload.at("hive_reloads_total{result=\"done\"}") == 1);
  CHECK(sum_of(after_reload, "hive_requests_total{") >= 30 + 2 + 2);  // /pid, 2 scrapes, pids_by_slot
}

TEST_CASE("health and readiness: hive's own routes, no app filter runs on them") {
  cluster_process c(fixture_args({"--health-path", "/healthz", "--ready-path", "/readyz"}),
                    {"FIXTURE_DENY_ALL=1"});
  const auto port = c.wait_listening();
  REQUIRE(port != 0);
  CHECK(http_get(port, "/pid").res.status == 403);  // the app's filter answers the app's routes
  const auto health = http_get(port, "/healthz");
  CHECK(health.res.status == 200);
  CHECK(health.res.body == "ok\n");
  CHECK(http_get(port, "/readyz").res.status == 200);
  CHECK(http_post(port, "/readyz", "").res.status == 405);
  CHECK(http_get(port, "/metrics").res.status == 403);  // off unless asked for
}

TEST_CASE("readiness: 503 at once on SIGTERM, while the workers still accept and answer") {
  cluster_process c(fixture_args({"--health-path", "/healthz", "--ready-path", "/readyz"}));
  const auto port = c.wait_listening();
  REQUIRE(port != 0);
  CHECK(http_get(port, "/readyz").res.status == 200);
  // A request in flight on each worker keeps both accepting through the drain window (an idle
  // worker stops accepting once quiet for 100 ms).
  auto busy0 = connect_to_slot(port, 0);
  auto busy1 = connect_to_slot(port, 1);
  REQUIRE(busy0);
  REQUIRE(busy1);
  const std::string slow = "GET /slow?ms=1500 HTTP/1.1\r\nHost: t\r\n\r\n";
  REQUIRE(busy0->send(slow));
  REQUIRE(busy1->send(slow));
  std::this_thread::sleep_for(50ms);
  c.signal(SIGTERM);
  REQUIRE(c.wait_for("stopping (SIGTERM)"));
  const auto ready = http_get(port, "/readyz");
  REQUIRE(ready.ok);
  CHECK(ready.res.status == 503);
  CHECK(ready.res.header("Connection").value_or("") == "close");
  CHECK(http_get(port, "/healthz").res.status == 200);  // alive while it drains
  CHECK(busy0->read_responses(1).responses.size() == 1);  // the slow ones finish
  CHECK(c.wait_exit() == 0);
}

TEST_CASE("readiness: 503 while a slot is given up") {
  cluster_process c(fixture_args({"--ready-path", "/readyz", "--metrics-path", "/metrics", "--max-restarts", "1", "--min-uptime", "5s"}),
                    {"FIXTURE_CRASH_SLOT=1"});
  REQUIRE(c.wait_for("slot 1 given up"));
  const auto port = c.wait_listening();
  REQUIRE(port != 0);
  CHECK(http_get(port, "/readyz").res.status == 503);
  const series_map m = scrape(port);
  CHECK(m.at("hive_slots_given_up") == 1);
  CHECK(m.at("hive_ready") == 0);
}

TEST_CASE("--log-format json: hive's own lines are JSON objects with level, time, pid, slot") {
  cluster_process c(fixture_args({"--log-format", "json"}));
  const auto line = c.wait_for("\"message\":\"listening on ");
  REQUIRE(line);
  const auto primary = nlohmann::json::parse(*line);
  const std::string msg = primary.at("message");
  const auto port = static_cast<std::uint16_t>(std::atoi(msg.substr(msg.rfind(':') + 1).c_str()));
  REQUIRE(port != 0);
  CHECK(primary.at("level") == "info");
  CHECK(primary.at("pid") == c.pid());
  CHECK(primary.at("slot").is_null());
  CHECK(primary.at("time").get<std::string>().size() == 24);  // 2026-11-30T20:40:00.123Z
  const auto worker_line = c.wait_for("\"message\":\"worker for slot 1 listening\"");
  REQUIRE(worker_line);
  const auto w = nlohmann::json::parse(*worker_line);
  CHECK(w.at("slot") == 1);
  CHECK(w.at("pid") != c.pid());
  // Every line hive wrote parses; the fixture's own "fixture …" lines are its own business.
  std::istringstream all(c.log());
  std::string l;
  int hive_lines = 0;
  while (std::getline(all, l)) {
    if (l.starts_with("fixture ")) continue;
    CHECK_MESSAGE(nlohmann::json::accept(l), l);
    ++hive_lines;
  }
  CHECK(hive_lines >= 5);
}

TEST_CASE("user metrics: declared before run, updated from every worker, one cluster-wide value") {
  cluster_process c(fixture_args({"--metrics-path", "/metrics"}));
  const auto port = c.wait_listening();
  REQUIRE(port != 0);
  std::set<int> slots;
  for (int i = 0; i < 20; ++i) {
    REQUIRE(http_get(port, "/hit?v=" + std::to_string(i % 2 == 0 ? 5 : 50)).res.status == 200);
  }
  for (int i = 0; i < 20 && slots.size() < 2; ++i) slots.insert(who_answered(http_get(port, "/pid")).slot);
  REQUIRE(slots.size() == 2);
  for (int i = 0; i < 4; ++i) {  // whichever worker answers the scrape says the same
    const series_map m = scrape(port);
    CHECK(m.at("fixture_hits_total") == 20);
    CHECK(m.at("fixture_level") == 10 * 5 + 10 * 50);
    CHECK(m.at("fixture_v_bucket{le=\"1\"}") == 0);
    CHECK(m.at("fixture_v_bucket{le=\"10\"}") == 10);
    CHECK(m.at("fixture_v_bucket{le=\"100\"}") == 20);
    CHECK(m.at("fixture_v_bucket{le=\"+Inf\"}") == 20);
    CHECK(m.at("fixture_v_count") == 20);
    CHECK(m.at("fixture_v_sum") == 550);
  }
}

TEST_CASE("user metrics: names are checked") {
  CHECK_THROWS_AS(hive::counter("ops_test_bad", "no _total"), std::invalid_argument);
  CHECK_THROWS_AS(hive::gauge("9lives", "starts with a digit"), std::invalid_argument);
  CHECK_THROWS_AS(hive::gauge("hive_mine", "hive's prefix"), std::invalid_argument);
  CHECK_THROWS_AS(hive::histogram("ops_test_h", "not ascending", {1, 1}), std::invalid_argument);
  const hive::counter ok("ops_test_ok_total", "fine");
  CHECK_THROWS_AS(hive::counter("ops_test_ok_total", "twice"), std::invalid_argument);
  ok.inc(3);
  CHECK(ok.value() == 3);
  CHECK(hive::metrics_text().find("ops_test_ok_total 3\n") != std::string::npos);
}

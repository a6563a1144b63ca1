#include "ops/metrics_render.hpp"

#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace hive::detail {

namespace {

constexpr auto relaxed = std::memory_order_relaxed;

const char* const method_names[method_classes] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "other"};

void family(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void number(std::string& out, std::uint64_t v) { out += std::to_string(v); }

void number(std::string& out, double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  out += buf;
}

// name{worker="k"[,extra]} value
template <class V>
void sample(std::string& out, const char* name, std::size_t k, const std::string& extra, V v) {
  out += name;
  out += "{worker=\"";
  out += std::to_string(k);
  out += '"';
  if (!extra.empty()) {
    out += ',';
    out += extra;
  }
  out += "} ";
  number(out, v);
  out += '\n';
}

template <class F>
void per_slot(std::string& out, const metrics_snapshot& m, const char* name, const char* type,
              const char* help, F value) {
  family(out, name, type, help);
  for (std::size_t k = 0; k < m.slots.size(); ++k) sample(out, name, k, {}, value(m.slots[k]));
}

void histogram(std::string& out, const metrics_snapshot& m) {
  const char* name = "hive_request_duration_seconds";
  family(out, name, "histogram",
         "Time from a request's first byte to its response being queued, on the worker loop's "
         "millisecond clock.");
  for (std::size_t k = 0; k < m.slots.size(); ++k) {
    const slot_snapshot& s = m.slots[k];
    std::uint64_t cumulative = 0;
    for (int i = 0; i < duration_buckets; ++i) {
      cumulative += s.duration[i];
      std::string le = "le=\"";
      if (i < duration_buckets - 1) {
        char buf[24];
        std::snprintf(buf, sizeof buf, "%g", static_cast<double>(duration_bounds_ms[i]) / 1000.0);
        le += buf;
      } else {
        le += "+Inf";
      }
      le += '"';
      sample(out, "hive_request_duration_seconds_bucket", k, le, cumulative);
    }
    sample(out, "hive_request_duration_seconds_sum", k, {}, static_cast<double>(s.duration_ms_sum) / 1000.0);
    sample(out, "hive_request_duration_seconds_count", k, {}, cumulative);
  }
}

}  // namespace

void slot_snapshot::add(const counters& c) {
  for (const auto& m : c.by_method) requests += m.load(relaxed);
  for (int i = 0; i < 6; ++i) responses[i] += c.responses[i].load(relaxed);
  for (int i = 0; i < method_classes; ++i) by_method[i] += c.by_method[i].load(relaxed);
  for (int i = 0; i < duration_buckets; ++i) duration[i] += c.duration[i].load(relaxed);
  duration_ms_sum += c.duration_ms_sum.load(relaxed);
  bytes_in += c.bytes_in.load(relaxed);
  bytes_out += c.bytes_out.load(relaxed);
  connections_open += c.connections_open.load(relaxed);
  connections_total += c.connections_total.load(relaxed);
  connections_shed += c.connections_shed.load(relaxed);
  tls_kernel_file_bytes += c.tls_kernel_file_bytes.load(relaxed);
}

std::string render_metrics(const metrics_snapshot& m) {
  std::string out;
  out.reserve(4096 + m.slots.size() * 4096);
  family(out, "hive_requests_total", "counter", "Requests answered (hive's own refusals too), by method.");
  for (std::size_t k = 0; k < m.slots.size(); ++k) {
    for (int i = 0; i < method_classes; ++i) {
      sample(out, "hive_requests_total", k, std::string("method=\"") + method_names[i] + '"',
             m.slots[k].by_method[i]);
    }
  }
  family(out, "hive_responses_total", "counter", "Responses by status class.");
  for (std::size_t k = 0; k < m.slots.size(); ++k) {
    for (int i = 1; i <= 5; ++i) {
      sample(out, "hive_responses_total", k, "code=\"" + std::to_string(i) + "xx\"", m.slots[k].responses[i]);
    }
  }
  histogram(out, m);
  per_slot(out, m, "hive_received_bytes_total", "counter", "Request bytes read (heads and bodies).",
           [](const slot_snapshot& s) { return s.bytes_in; });
  per_slot(out, m, "hive_sent_bytes_total", "counter", "Response bytes written.",
           [](const slot_snapshot& s) { return s.bytes_out; });
  per_slot(out, m, "hive_tls_kernel_sendfile_bytes_total", "counter",
           "File bytes sent over HTTPS with sendfile through kernel TLS (part of the sent bytes).",
           [](const slot_snapshot& s) { return s.tls_kernel_file_bytes; });
  per_slot(out, m, "hive_connections_open", "gauge", "Connections open now.",
           [](const slot_snapshot& s) { return s.connections_open; });
  per_slot(out, m, "hive_connections_accepted_total", "counter", "Connections accepted.",
           [](const slot_snapshot& s) { return s.connections_total; });
  per_slot(out, m, "hive_connections_shed_total", "counter",
           "Connections closed because the worker was over a memory budget.",
           [](const slot_snapshot& s) { return s.connections_shed; });
  per_slot(out, m, "hive_worker_restarts_total", "counter", "Workers started again after a crash or a kill.",
           [](const slot_snapshot& s) { return s.restarts; });
  if (m.cluster) {
    per_slot(out, m, "hive_messages_dropped_total", "counter",
             "Cluster messages for the slot's worker (published, relayed, broadcast, replies) dropped because it read too slowly.",
             [](const slot_snapshot& s) { return s.messages_dropped; });
  }
  per_slot(out, m, "hive_worker_up", "gauge",
           "Worker processes alive for the slot (two or more while a reload replaces one).",
           [](const slot_snapshot& s) { return static_cast<std::uint64_t>(s.workers_up); });
  per_slot(out, m, "hive_worker_resident_memory_bytes", "gauge", "Resident memory of the slot's live workers.",
           [](const slot_snapshot& s) { return s.process.rss_bytes; });
  per_slot(out, m, "hive_worker_cpu_seconds", "gauge",
           "CPU time (user and system) of the slot's live workers; starts again with a new worker.",
           [](const slot_snapshot& s) { return s.process.cpu_seconds; });
  per_slot(out, m, "hive_worker_open_fds", "gauge", "Open file descriptors of the slot's live workers.",
           [](const slot_snapshot& s) { return s.process.open_fds; });
  if (m.cluster) {
    family(out, "hive_reloads_total", "counter", "Rolling reloads, by result.");
    out += "hive_reloads_total{result=\"done\"} " + std::to_string(m.reloads_done) + "\n";
    out += "hive_reloads_total{result=\"aborted\"} " + std::to_string(m.reloads_failed) + "\n";
    family(out, "hive_slots_given_up", "gauge", "Slots whose worker crash-looped and is not restarted.");
    out += "hive_slots_given_up " + std::to_string(m.slots_given_up) + "\n";
  }
  family(out, "hive_ready", "gauge", "1 when every slot listens and nothing drains (what --ready-path says).");
  out += m.ready ? "hive_ready 1\n" : "hive_ready 0\n";
  return out;
}

process_sample sample_process(pid_t pid) {
  process_sample p;
  const std::string dir = "/proc/" + std::to_string(pid);
  std::ifstream f(dir + "/stat");
  std::string line;
  if (std::getline(f, line)) {
    // The command name may hold spaces and parentheses: the fields start after the last ')'.
    const auto close = line.rfind(')');
    if (close != std::string::npos) {
      std::istringstream in(line.substr(close + 1));
      std::string field;
      unsigned long long utime = 0, stime = 0, rss_pages = 0;
      for (int n = 3; in >> field; ++n) {  // field 3 is the state
        if (n == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
        if (n == 15) stime = std::strtoull(field.c_str(), nullptr, 10);
        if (n == 24) {
          rss_pages = std::strtoull(field.c_str(), nullptr, 10);
          break;
        }
      }
      const long tick = ::sysconf(_SC_CLK_TCK);
      const long page = ::sysconf(_SC_PAGESIZE);
      if (tick > 0) p.cpu_seconds = static_cast<double>(utime + stime) / static_cast<double>(tick);
      if (page > 0) p.rss_bytes = rss_pages * static_cast<unsigned long long>(page);
    }
  }
  if (DIR* d = ::opendir((dir + "/fd").c_str())) {
    while (const dirent* e = ::readdir(d)) {
      if (e->d_name[0] != '.') ++p.open_fds;
    }
    ::closedir(d);
  }
  return p;
}

}  // namespace hive::detail

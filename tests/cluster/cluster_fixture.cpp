// A cluster the tests start as a separate process (so the doctest process never forks one).
// Options come from the command line as for any hive program; misbehaviour from the environment:
//   FIXTURE_CRASH_SLOT=k|all    the worker of slot k (or every worker) fails at start
//   FIXTURE_FAIL_FILE=path      a worker fails at start while `path` exists (a bad deploy)
//   FIXTURE_HANG_FILE=path      a worker sleeps 30 s at start while `path` exists
//   FIXTURE_RESTART_DELAY_MS=n  a restarted worker takes n ms to start (connections queue)
//   FIXTURE_START_DELAY_MS=n    every worker takes n ms to start (a slow start hook)
//   FIXTURE_STOP_DIR=dir        each worker opens dir/<pid> at start and writes "started slot=k"
//                               to it, buffered; its stop hook adds "stopped slot=k" and closes it
//   FIXTURE_STOP_SLEEP_MS=n     the stop hook then sleeps n ms (a hook that hangs)
//   FIXTURE_VERSION=v          /version answers v ("1" without it): a binary upgrade's new build
//   FIXTURE_DENY_ALL=1          an app filter answers 403 to every request (hive's operations
//                               routes must not see it); /admin/metrics mounts metrics_handler()
// Routes: /pid, /slow?ms=n, /spin (a busy loop), /stats, /ticks (a timer the start hook set on
// hive::worker::io() every 20 ms), /version, /hit?v=x (user metrics), /greeting, /inbox, POST /send, POST /relay?to=k.
// With --workers 0 it is a single process (the integration tests run it so). The primary echoes {"echo": x} back and broadcasts {"broadcast": g} as
// {"greeting": g}; it logs every event as "fixture <event> slot=k pid=p".
#include <atomic>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include <asio/steady_timer.hpp>
#include <hive/hive.hpp>

namespace {

bool file_exists(const char* env) {
  const char* path = std::getenv(env);
  return path != nullptr && ::access(path, F_OK) == 0;
}

void say(const std::string& line) {
  const std::string s = line + "\n";
  (void)!::write(2, s.data(), s.size());
}

// Per-worker state; each worker process has its own copy.
std::string greeting = "hello";
nlohmann::json inbox = nlohmann::json::array();
nlohmann::json events = nlohmann::json::array();  // pub/sub: what "events" delivered here
long events_twice = 0;                            // and to the second subscription
long ticks = 0;
std::ofstream stop_file;  // left to the stop hook to flush: a worker's _exit() would not

void tick(std::shared_ptr<asio::steady_timer> timer) {
  timer->expires_after(std::chrono::milliseconds(20));
  timer->async_wait([timer](const asio::error_code& ec) {
    if (ec) return;
    ++ticks;
    tick(timer);
  });
}

void start_worker() {
  hive::worker::subscribe("events", [](const nlohmann::json& msg) { events.push_back(msg); });
  hive::worker::subscribe("events", [](const nlohmann::json&) { ++events_twice; });
  if (const char* crash = std::getenv("FIXTURE_CRASH_SLOT")) {
    if (std::string(crash) == "all" || std::atoi(crash) == hive::worker::slot()) {
      throw std::runtime_error("fixture: told to crash at start");
    }
  }
  if (file_exists("FIXTURE_FAIL_FILE")) throw std::runtime_error("fixture: bad deploy");
  if (file_exists("FIXTURE_HANG_FILE")) std::this_thread::sleep_for(std::chrono::seconds(30));
  if (const char* d = std::getenv("FIXTURE_START_DELAY_MS")) {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::atoi(d)));
  }
  if (const char* d = std::getenv("FIXTURE_RESTART_DELAY_MS"); d && hive::worker::restarts() > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::atoi(d)));
  }
  tick(std::make_shared<asio::steady_timer>(hive::worker::io()));
  if (const char* dir = std::getenv("FIXTURE_STOP_DIR")) {
    stop_file.open(std::string(dir) + "/" + std::to_string(::getpid()));
    stop_file << "started slot=" << hive::worker::slot() << "\n";
  }
  hive::worker::on_message([](const nlohmann::json& msg, int from) {
    inbox.push_back({{"from", from}, {"data", msg}});
    if (msg.contains("greeting") && msg["greeting"].is_string()) greeting = msg["greeting"];
  });
}

void stop_worker() {
  if (stop_file.is_open()) {
    stop_file << "stopped slot=" << hive::worker::slot() << "\n";
    stop_file.close();
  }
  if (const char* d = std::getenv("FIXTURE_STOP_SLEEP_MS")) {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::atoi(d)));
  }
}

}  // namespace

int main(int argc, char** argv) {
  const auto opts = hive::options::from_args(argc, argv);
  hive::app app;
  if (std::getenv("FIXTURE_DENY_ALL") != nullptr) {
    hive::filter deny;
    deny.before = [](const hive::request&, hive::response& res) {
      res.status(403).text("denied\n");
      return hive::filter_result::answered;
    };
    app.use(deny);
  }
  app.get("/admin/metrics", hive::metrics_handler());
  // User metrics, declared before run: /hit?v=x adds to each from whichever worker answers.
  const hive::counter hits("fixture_hits_total", "Requests to /hit.");
  const hive::gauge level("fixture_level", "Sum of /hit's v.");
  const hive::histogram sizes("fixture_v", "/hit's v.", {1, 10, 100});
  app.get("/hit", [=](const hive::request& req, hive::response& res) {
    const double v = std::stod(std::string(req.query("v").value_or("1")));
    hits.inc();
    level.add(v);
    sizes.observe(v);
    res.text("hit\n");
  });
  app.get("/pid", [](const hive::request&, hive::response& res) {
    res.json({{"pid", ::getpid()}, {"slot", hive::worker::slot()}, {"count", hive::worker::count()}});
  });
  app.get("/slow", [](const hive::request& req, hive::response& res) {
    const int ms = std::stoi(std::string(req.query("ms").value_or("1000")));
    auto timer = std::make_shared<asio::steady_timer>(hive::worker::io(), std::chrono::milliseconds(ms));
    timer->async_wait([timer, d = res.defer()](const asio::error_code&) mutable {
      d.finish([](hive::response& r) { r.text("slow done\n"); });
    });
  });
  app.get("/spin", [](const hive::request&, hive::response&) {
    // A loop the compiler may not remove: the worker's event loop never gets back control.
    std::atomic<unsigned long> spins{0};
    for (;;) spins.fetch_add(1, std::memory_order_relaxed);
  });
  app.get("/version", [](const hive::request&, hive::response& res) {
    const char* v = std::getenv("FIXTURE_VERSION");
    res.text(v != nullptr ? v : "1");
  });
  app.get("/stats", [](const hive::request&, hive::response& res) { res.json(hive::worker::stats()); });
  app.get("/ticks", [](const hive::request&, hive::response& res) { res.json({{"ticks", ticks}}); });
  app.get("/greeting", [](const hive::request&, hive::response& res) { res.text(greeting); });
  app.get("/inbox", [](const hive::request&, hive::response& res) { res.json(inbox); });
  app.post("/send", [](const hive::request& req, hive::response& res) {
    const auto msg = nlohmann::json::parse(req.body(), nullptr, false);
    res.text(hive::worker::send(msg) ? "sent" : "refused");
  });
  app.post("/relay", [](const hive::request& req, hive::response& res) {
    const int to = std::stoi(std::string(req.query("to").value_or("0")));
    res.text(hive::worker::send_to(to, nlohmann::json::parse(req.body(), nullptr, false)) ? "sent" : "refused");
  });

  app.get("/events", [](const hive::request&, hive::response& res) {
    res.json({{"events", events}, {"twice", events_twice}});
  });
  app.post("/publish", [](const hive::request& req, hive::response& res) {
    const std::string topic(req.query("topic").value_or("events"));
    res.text(hive::worker::publish(topic, nlohmann::json::parse(req.body(), nullptr, false)) ? "sent" : "refused");
  });
  // Drops this worker's "events" subscriptions (both handlers).
  app.post("/unsubscribe", [](const hive::request&, hive::response& res) {
    hive::worker::unsubscribe("events");
    res.text("done");
  });
  // Request/reply: asks the primary with the body, answers {"error":…,"reply":…} once it knows.
  app.post("/ask", [](const hive::request& req, hive::response& res) {
    const auto ms = std::stoi(std::string(req.query("timeout_ms").value_or("2000")));
    const bool sent = hive::worker::request(
        nlohmann::json::parse(req.body(), nullptr, false), std::chrono::milliseconds(ms),
        [d = res.defer()](hive::worker::request_error err, const nlohmann::json& reply) mutable {
          static const char* names[] = {"ok", "timeout", "peer_gone", "no_handler", "handler_failed"};
          d.finish([&](hive::response& r) {
            r.json({{"error", names[static_cast<int>(err)]}, {"reply", reply}});
          });
        });
    if (!sent) res.text("refused");
  });

  hive::cluster cluster(app, opts);
  cluster.on_request([&cluster](hive::worker_handle& w, const nlohmann::json& msg, hive::cluster::reply_fn reply) {
    if (msg.contains("echo")) return reply({{"echo", msg["echo"]}, {"slot", w.slot()}});
    if (msg.contains("throw")) throw std::runtime_error("fixture request handler fails");
    if (msg.contains("big")) return reply({{"big", std::string(100 * 1024, 'x')}});
    if (msg.contains("later_ms")) {  // from a timer on the primary's loop
      auto t = std::make_shared<asio::steady_timer>(cluster.io(), std::chrono::milliseconds(msg["later_ms"].get<int>()));
      t->async_wait([t, reply](const asio::error_code&) { reply({{"later", true}}); });
    }
    // anything else: never answered
  });
  const auto event = [](const char* name) {
    return [name](hive::worker_handle& w) {
      say(std::string("fixture ") + name + " slot=" + std::to_string(w.slot()) + " pid=" + std::to_string(w.pid()));
    };
  };
  cluster.on_fork(event("fork")).on_online(event("online")).on_listening(event("listening"));
  cluster.on_disconnect(event("disconnect"));
  cluster.on_exit([](hive::worker_handle& w, hive::exit_status st) {
    say("fixture exit slot=" + std::to_string(w.slot()) + " pid=" + std::to_string(w.pid()) +
        " code=" + std::to_string(st.code) + " signal=" + std::to_string(st.signal));
  });
  cluster.on_message([&cluster](hive::worker_handle& w, const nlohmann::json& msg) {
    say("fixture message slot=" + std::to_string(w.slot()) + " " + msg.dump());
    if (msg.contains("echo")) w.send({{"echo", msg["echo"]}});
    if (msg.contains("broadcast")) cluster.broadcast({{"greeting", msg["broadcast"]}});
    if (msg.contains("publish")) cluster.publish("events", msg["publish"]);
  });
  cluster.on_worker_start(start_worker);
  cluster.on_worker_stop(stop_worker);
  return cluster.run();
}

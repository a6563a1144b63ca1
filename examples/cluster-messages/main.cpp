// Workers talk to the primary: each counts its requests and reports the count once a second;
// the primary keeps the totals and, when a client posts a new greeting to any worker, broadcasts
// it so every worker answers with it. /stats reads every worker's counters from shared memory.
//
//   curl localhost:8000/                      # "hello from slot 1 of 2"
//   curl -d 'Bonjour' localhost:8000/greeting # every worker now says Bonjour
//   curl localhost:8000/stats                 # counters summed over all workers
//   curl localhost:8000/reports               # what the workers reported to the primary
#include <memory>
#include <string>

#include <asio/steady_timer.hpp>
#include <hive/hive.hpp>

namespace {

// Per worker (each worker process has its own copy).
std::string greeting = "hello";
std::uint64_t served = 0;
nlohmann::json last_reports = nlohmann::json::object();

// Sends this worker's count to the primary every second, on the worker's own loop.
void report_every_second(std::shared_ptr<asio::steady_timer> timer) {
  timer->expires_after(std::chrono::seconds(1));
  timer->async_wait([timer](const asio::error_code& ec) {
    if (ec) return;
    hive::worker::send({{"served", served}});
    report_every_second(timer);
  });
}

}  // namespace

int main(int argc, char** argv) {
  const auto opts = hive::options::from_args(argc, argv);
  hive::app app;
  app.get("/", [](const hive::request&, hive::response& res) {
    ++served;
    res.text(greeting + " from slot " + std::to_string(hive::worker::slot()) + " of " +
             std::to_string(hive::worker::count()) + "\n");
  });
  app.post("/greeting", [](const hive::request& req, hive::response& res) {
    const bool sent = hive::worker::send({{"greeting", std::string(req.body())}});
    res.status(sent ? 202 : 503).text(sent ? "broadcasting\n" : "not in a cluster\n");
  });
  app.get("/stats", [](const hive::request&, hive::response& res) { res.json(hive::worker::stats()); });
  app.get("/reports", [](const hive::request&, hive::response& res) { res.json(last_reports); });

  hive::cluster cluster(app, opts);
  nlohmann::json totals = nlohmann::json::object();  // the primary's view: slot → served
  std::string current = greeting;
  cluster.on_message([&](hive::worker_handle& w, const nlohmann::json& msg) {
    if (msg.contains("served")) {
      totals[std::to_string(w.slot())] = msg["served"];
      cluster.broadcast({{"reports", totals}});
    }
    if (msg.contains("greeting") && msg["greeting"].is_string()) {
      current = msg["greeting"];
      cluster.broadcast({{"greeting", current}});
    }
  });
  // A worker started later (a restart, a reload) learns the current greeting at once.
  cluster.on_online([&](hive::worker_handle& w) { w.send({{"greeting", current}}); });
  cluster.on_worker_start([] {
    hive::worker::on_message([](const nlohmann::json& msg, int) {
      if (msg.contains("greeting")) greeting = msg["greeting"];
      if (msg.contains("reports")) last_reports = msg["reports"];
    });
    if (hive::worker::in_cluster()) {
      report_every_second(std::make_shared<asio::steady_timer>(hive::worker::io()));
    }
  });
  return cluster.run();
}

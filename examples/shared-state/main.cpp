// State every worker shares: one counter and a cache with expiry, kept in a hive::shared_dict
// that the primary maps before forking, so any worker answers the same and a reload (SIGHUP) or
// a crashed worker loses nothing.
//
//   examples/shared-state --port 8000 --workers 2
//   curl -X POST localhost:8000/counter              # 1, 2, 3 … whichever worker answers
//   curl localhost:8000/counter                      # the value
//   curl -X PUT -d 'hi' 'localhost:8000/cache/greeting?ttl=30'
//   curl localhost:8000/cache/greeting               # hi, or 404 after 30 s
//   curl -d 'news' localhost:8000/publish            # to topic "events", heard by every worker
//   curl localhost:8000/received                     # {"0":1,"1":1}: what each worker heard
#include <unistd.h>

#include <charconv>
#include <string>

#include <hive/hive.hpp>
#include <hive/shared_dict.hpp>

int main(int argc, char** argv) {
  const auto opts = hive::options::from_args(argc, argv);
  // Before hive::run: mapped here, in what becomes the primary, and inherited by every worker.
  hive::shared_dict state("state", 8 << 20);

  hive::app app;
  hive::cluster cluster(app, opts);
  // Each worker counts what it hears on "events" in the shared dictionary under its slot, so
  // any worker can answer for all of them.
  cluster.on_worker_start([&] {
    hive::worker::subscribe("events", [&](const nlohmann::json&) {
      state.incr("received:" + std::to_string(hive::worker::slot()), 1);
    });
  });
  app.post("/publish", [](const hive::request& req, hive::response& res) {
    const bool sent = hive::worker::publish("events", std::string(req.body()));
    res.status(sent ? 202 : 503).text(sent ? "published\n" : "not in a cluster\n");
  });
  app.get("/received", [&](const hive::request&, hive::response& res) {
    nlohmann::json out = nlohmann::json::object();
    for (int k = 0; k < hive::worker::count(); ++k) {
      const auto n = state.get("received:" + std::to_string(k)).value_or("0");
      out[std::to_string(k)] = std::stoll(n);
    }
    res.json(out);
  });
  app.post("/counter", [&](const hive::request&, hive::response& res) {
    const auto n = state.incr("counter", 1);
    if (!n) return void(res.status(503).text("counter unavailable\n"));
    res.text(std::to_string(n.value));
  });
  app.get("/counter", [&](const hive::request&, hive::response& res) {
    res.text(state.get("counter").value_or("0"));
  });
  app.put("/cache/:key", [&](const hive::request& req, hive::response& res) {
    long ttl_s = 0;
    if (auto t = req.query("ttl")) {
      const auto [end, ec] = std::from_chars(t->data(), t->data() + t->size(), ttl_s);
      // At most a year: seconds to milliseconds must not overflow.
      if (ec != std::errc() || end != t->data() + t->size() || ttl_s < 0 || ttl_s > 365L * 24 * 3600) {
        return void(res.status(400).text("ttl: a number of seconds\n"));
      }
    }
    switch (state.set(*req.param("key"), req.body(), std::chrono::seconds(ttl_s))) {
      case hive::dict_status::ok: return res.text("stored\n");
      case hive::dict_status::too_large: return void(res.status(413).text("too large\n"));
      default: return void(res.status(507).text("no room\n"));
    }
  });
  app.get("/cache/:key", [&](const hive::request& req, hive::response& res) {
    auto v = state.get(*req.param("key"));
    if (!v) return void(res.status(404).text("not found\n"));
    res.body(*v, "application/octet-stream");
  });
  app.get("/pid", [](const hive::request&, hive::response& res) {
    res.json({{"pid", ::getpid()}, {"slot", hive::worker::slot()}});
  });
  return cluster.run();
}

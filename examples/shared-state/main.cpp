// State every worker shares: one counter and a cache with expiry, kept in a hive::shared_dict
// that the primary maps before forking, so any worker answers the same and a reload (SIGHUP) or
// a crashed worker loses nothing. And messages: a publish heard by every worker, and a question
// put to every worker by request/reply.
//
//   examples/shared-state --port 8000 --workers 2
//   curl -X POST localhost:8000/counter              # 1, 2, 3 … whichever worker answers
//   curl localhost:8000/counter                      # the value
//   curl -X PUT -d 'hi' 'localhost:8000/cache/greeting?ttl=30'
//   curl localhost:8000/cache/greeting               # hi, or 404 after 30 s
//   curl -d 'news' localhost:8000/publish            # to topic "events", heard by every worker
//   curl localhost:8000/received                     # {"0":1,"1":1}: each worker asked what it heard
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
  // Each worker counts what it hears on "events" in a variable of its own (a per-worker global:
  // a reload starts it over), and tells anyone who asks.
  static long received = 0;
  cluster.on_worker_start([] {
    hive::worker::subscribe("events", [](const nlohmann::json&) { ++received; });
    hive::worker::on_request([](const nlohmann::json&, int /*from*/, hive::worker::reply_fn reply) {
      reply(received);
    });
  });
  app.post("/publish", [](const hive::request& req, hive::response& res) {
    const bool sent = hive::worker::publish("events", std::string(req.body()));
    res.status(sent ? 202 : 503).text(sent ? "published\n" : "not sent\n");
  });
  // Asks every worker (this one too) and answers once all replied: {"0":3,"1":3}; a worker that
  // did not answer in time shows as null.
  app.get("/received", [](const hive::request&, hive::response& res) {
    struct gather {
      hive::deferred reply;
      nlohmann::json counts = nlohmann::json::object();
      int waiting = hive::worker::count();
    };
    auto g = std::make_shared<gather>(gather{res.defer()});
    for (int k = 0; k < hive::worker::count(); ++k) {
      const bool asked = hive::worker::request_worker(
          k, {{"get", "received"}}, std::chrono::seconds(2),
          [g, k](hive::worker::request_error err, const nlohmann::json& n) {
            g->counts[std::to_string(k)] = err == hive::worker::request_error::ok ? n : nlohmann::json();
            if (--g->waiting == 0) g->reply.finish([&](hive::response& r) { r.json(g->counts); });
          });
      if (!asked) g->counts[std::to_string(k)] = nullptr;
      if (!asked && --g->waiting == 0) g->reply.finish([&](hive::response& r) { r.json(g->counts); });
    }
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

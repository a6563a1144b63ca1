// Server-sent events: GET /events streams `tick` events, one every 100 ms (`?every=MS`), each with
// an id. A reconnecting EventSource sends the last id it saw in Last-Event-ID and the count goes
// on from there; `?count=N` ends the stream after N events. GET / is a page that shows them.
#include <charconv>
#include <chrono>
#include <memory>
#include <string>

#include <asio/steady_timer.hpp>

#include <hive/hive.hpp>

namespace {

long number(std::optional<std::string_view> text, long fallback) {
  long v = fallback;
  if (text) std::from_chars(text->data(), text->data() + text->size(), v);
  return v;
}

constexpr std::string_view page = R"(<!doctype html>
<title>hive events</title>
<pre id="log"></pre>
<script>
  const log = document.getElementById("log");
  new EventSource("/events").addEventListener("tick", (e) => {
    log.textContent += `tick ${e.lastEventId}: ${e.data}\n`;
  });
</script>
)";

// One client's ticks: a timer on this worker's loop sends the next event until the count is
// reached or the client goes away.
struct ticker : std::enable_shared_from_this<ticker> {
  hive::event_stream events;
  asio::steady_timer timer{hive::worker::io()};
  std::chrono::milliseconds every{100};
  long next = 1, last = -1;  // -1: no end

  void tick() {
    if (!events.open()) return;
    if (last >= 0 && next > last) {
      events.end();
      return;
    }
    const std::string id = std::to_string(next);
    events.send("worker " + std::to_string(hive::worker::slot()) + "\nevent " + id, "tick", id);
    ++next;
    timer.expires_after(every);
    timer.async_wait([self = shared_from_this()](const std::error_code& ec) {
      if (!ec) self->tick();
    });
  }
};

}  // namespace

int main(int argc, char** argv) {
  hive::app app;
  app.get("/", [](const hive::request&, hive::response& res) {
    res.header("Content-Type", "text/html; charset=utf-8").text(page);
  });
  app.get("/events", [](const hive::request& req, hive::response& res) {
    auto t = std::make_shared<ticker>();
    t->every = std::chrono::milliseconds(std::max<long>(1, number(req.query("every"), 100)));
    t->next = number(hive::event_stream::last_event_id(req), 0) + 1;
    const long count = number(req.query("count"), -1);
    if (count >= 0) t->last = t->next + count - 1;
    t->events = hive::event_stream(res, {.heartbeat = std::chrono::seconds(15), .retry = std::chrono::seconds(1)});
    // The client left: stop the timer, which lets go of the ticker.
    t->events.on_close([weak = std::weak_ptr<ticker>(t)] {
      if (auto s = weak.lock()) s->timer.cancel();
    });
    t->tick();
  });
  return hive::run(app, hive::options::from_args(argc, argv));
}

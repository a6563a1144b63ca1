// Server-sent events over the sans-I/O session: the text/event-stream format, byte for byte.
#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include <hive/hive.hpp>

#include "unit/session_harness.hpp"

namespace {

std::vector<hive::event_stream> sse_open;

const hive::app& sse_app() {
  static const hive::app a = [] {
    hive::app app;
    app.get("/events", [](const hive::request& req, hive::response& res) {
      hive::event_stream events(res, {.heartbeat = std::chrono::milliseconds(0),
                                      .retry = std::chrono::milliseconds(2500)});
      events.send("plain");
      events.send("two\nlines\r\nand\rthree", "update", "7");
      events.send("");  // an event with empty data
      events.comment("note\nsecond");
      CHECK_THROWS_AS(events.send("x", "bad\ntype"), std::invalid_argument);
      CHECK_THROWS_AS(events.send("x", {}, std::string_view("a\0b", 3)), std::invalid_argument);
      CHECK(hive::event_stream::last_event_id(req) == std::optional<std::string_view>("41"));
      sse_open.push_back(events);
    });
    return app;
  }();
  return a;
}

}  // namespace

TEST_CASE("event_stream: events, multi-line data, comments and retry in the text/event-stream format") {
  sse_open.clear();
  hive::test::harness h(sse_app());
  h.feed("GET /events HTTP/1.1\r\nHost: h\r\nLast-Event-ID: 41\r\n\r\n");
  REQUIRE(sse_open.size() == 1);
  CHECK(sse_open[0].open());
  sse_open[0].end();
  CHECK(!sse_open[0].open());
  h.drain();
  const auto got = h.responses();
  REQUIRE(got.responses.size() == 1);
  const auto& r = got.responses[0];
  CHECK(r.header("Content-Type") == "text/event-stream");
  CHECK(r.header("Cache-Control") == "no-cache");
  CHECK(r.header("Transfer-Encoding") == "chunked");
  CHECK(r.body ==
        "retry: 2500\n\n"
        "data: plain\n\n"
        "event: update\nid: 7\ndata: two\ndata: lines\ndata: and\ndata: three\n\n"
        "data: \n\n"
        ": note\n: second\n\n");
  sse_open.clear();
}

TEST_CASE("event_stream: a default-constructed handle does nothing") {
  hive::event_stream none;
  CHECK(!none.open());
  CHECK(!none.send("x"));
  none.end();
}

// Pub/sub over the real channels: every subscription in every worker gets each message once, in
// publish order per publisher; the primary publishes too; other topics reach no one.
#include <cstdlib>
#include <thread>

#include <doctest/doctest.h>

#include "cluster_test_util.hpp"

using namespace hive::test;

namespace {
nlohmann::json events_of(client& c) {
  const auto r = request_on(c, "GET", "/events");
  return r.ok ? nlohmann::json::parse(r.res.body, nullptr, false) : nlohmann::json();
}

// Waits until `c`'s worker has `n` events.
nlohmann::json wait_events(client& c, std::size_t n) {
  nlohmann::json j;
  for (int i = 0; i < 200; ++i) {
    j = events_of(c);
    if (j.is_object() && j["events"].size() >= n) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return j;
}
}  // namespace

TEST_CASE("pub/sub: every subscriber in every worker, once, in order; the primary publishes too") {
  cluster_process c(fixture_args());
  auto both = connect_both(c);
  auto& w0 = both.w0;
  auto& w1 = both.w1;

  const int n = 200;
  for (int i = 0; i < n; ++i) {
    REQUIRE(request_on(*w1, "POST", "/publish", nlohmann::json{{"n", i}}.dump()).res.body == "sent");
  }
  // A topic nobody subscribed to reaches no one.
  CHECK(request_on(*w0, "POST", "/publish?topic=other", R"({"n":-1})").res.body == "sent");
  // The primary publishes (asked by a message from slot 0).
  CHECK(request_on(*w0, "POST", "/send", R"({"publish":{"n":"primary"}})").res.body == "sent");

  for (client* w : {w0.get(), w1.get()}) {
    const auto j = wait_events(*w, n + 1);
    REQUIRE(j.is_object());
    const auto& ev = j["events"];
    REQUIRE(ev.size() == n + 1);  // exactly once each, and nothing from "other"
    bool in_order = true;
    for (int i = 0; i < n; ++i) in_order = in_order && ev[i]["n"] == i;
    CHECK(in_order);
    CHECK(ev[n]["n"] == "primary");
    CHECK(j["twice"] == n + 1);  // the second subscription got them all too
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // nothing more arrives
  CHECK(events_of(*w0)["events"].size() == n + 1);
}

TEST_CASE("pub/sub: a subscriber that stops reading loses messages, logged once a second, not once each") {
  cluster_process c(fixture_args());
  auto both = connect_both(c);
  auto& w0 = both.w0;
  auto& w1 = both.w1;
  // Slot 0's loop spins: it reads nothing more from its channel.
  std::thread stuck([&] { request_on(*w0, "GET", "/spin", "", std::chrono::milliseconds(500)); });
  stuck.join();
  // 2 x 120 messages of 256 KB: far more than the 32 MiB the primary queues for slot 0. Paced a
  // little, so that the primary (one core, parsing each) keeps up with the publisher.
  const auto t0 = std::chrono::steady_clock::now();
  std::size_t sent = 0;
  const auto publish = [&] {
    sent += request_on(*w1, "POST", "/publish?fill=256000", "", 10s).res.body == "sent" ? 1 : 0;
  };
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 120; ++i) {
      publish();
      if (i % 10 == 9) std::this_thread::sleep_for(std::chrono::milliseconds(30));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  }
  publish();  // logs what the 2nd round dropped
  CHECK(sent > 200);
  // Slot 1 reads its channel: it got every one that was sent.
  CHECK(wait_events(*w1, sent)["events"].size() == sent);
  CHECK(c.wait_for("message(s) to worker", std::chrono::seconds(3), 1));
  // At most one line a second, never one per message (over 100 were dropped).
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - t0).count();
  CHECK(c.count("message(s) to worker") <= static_cast<std::size_t>(secs) + 2);
  CHECK(c.count("dropped a message to") == 0);
  // The count is the app's to see: slot 1 reads slot 0's losses in the shared stats, and lost
  // nothing itself.
  const auto dropped = nlohmann::json::parse(request_on(*w1, "GET", "/dropped").res.body, nullptr, false);
  CHECK(dropped["mine"] == 0);
  CHECK(dropped["all"].get<std::uint64_t>() > 0);  // most of them in a release build; fewer under ASan
  CHECK(dropped["all"].get<std::uint64_t>() <= sent);
}

TEST_CASE("a worker flooding the primary with relays to a stuck worker: drops counted, one log line a second") {
  cluster_process c(fixture_args());
  auto both = connect_both(c);
  auto& w0 = both.w0;
  auto& w1 = both.w1;
  std::thread stuck([&] { request_on(*w0, "GET", "/spin", "", std::chrono::milliseconds(500)); });
  stuck.join();
  // 3 x 2,000 relays of 8 KB to slot 0, which reads nothing: about 48 MB for a 32 MiB queue.
  const auto t0 = std::chrono::steady_clock::now();
  long sent = 0;
  for (int round = 0; round < 3; ++round) {
    sent += std::atol(request_on(*w1, "POST", "/flood?to=0&n=2000&bytes=8000", "", 60s).res.body.c_str());
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
  }
  CHECK(sent > 4000);  // the flooder's own queue to the primary may overflow too
  nlohmann::json dropped;
  for (int i = 0; i < 1200; ++i) {  // the primary may still be working through slot 1's channel
    dropped = nlohmann::json::parse(request_on(*w1, "GET", "/dropped").res.body, nullptr, false);
    if (dropped["all"].get<std::uint64_t>() > 100) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(dropped["all"].get<std::uint64_t>() > 100);
  CHECK(c.wait_for("message(s) to worker"));
  // Drops counted, one line a second at most, none per message. (The flooding worker may fill
  // its own queue to the primary too: those lines are limited alike.)
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - t0).count();
  CHECK(c.count("message(s) to worker") <= static_cast<std::size_t>(secs) + 2);
  CHECK(c.count("dropped a message to") <= static_cast<std::size_t>(secs) + 2);
}

TEST_CASE("pub/sub: a worker that unsubscribes hears nothing more; the others still do") {
  cluster_process c(fixture_args());
  auto both = connect_both(c);
  auto& w0 = both.w0;
  auto& w1 = both.w1;
  REQUIRE(request_on(*w1, "POST", "/publish", R"({"n":1})").res.body == "sent");
  REQUIRE(wait_events(*w0, 1)["events"].size() == 1);
  REQUIRE(request_on(*w0, "POST", "/unsubscribe", "").res.body == "done");
  // The primary reads the worker's messages in order: the unsubscribe is in before this publish.
  REQUIRE(request_on(*w0, "POST", "/publish", R"({"n":2})").res.body == "sent");
  CHECK(wait_events(*w1, 2)["events"].size() == 2);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const auto j = events_of(*w0);
  CHECK(j["events"].size() == 1);
  CHECK(j["twice"] == 1);
}

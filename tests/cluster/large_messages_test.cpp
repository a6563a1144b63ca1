// Messages over one packet (64 KiB), up to worker::max_message_bytes (16 MiB): sent in pieces and
// put together again, every way a message travels — request/reply with the primary and between
// workers, a publish to every worker, on_message, relays and broadcast — and the channel's own
// handling of pieces that arrive broken.
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <thread>

#include <asio/io_context.hpp>
#include <doctest/doctest.h>

#include "cluster/ipc_channel.hpp"
#include "cluster_test_util.hpp"

using namespace hive::test;

namespace {

constexpr std::size_t ten_mib = 10 * 1024 * 1024;

nlohmann::json post_json(client& c, const std::string& path) {
  const auto r = request_on(c, "POST", path, "", std::chrono::seconds(30));
  return r.ok ? nlohmann::json::parse(r.res.body, nullptr, false) : nlohmann::json("no response");
}

// Polls `path` until `pred` holds for its JSON.
template <class Pred>
nlohmann::json poll_json(client& c, const std::string& path, Pred pred) {
  nlohmann::json j;
  for (int i = 0; i < 300; ++i) {
    const auto r = request_on(c, "GET", path, "", std::chrono::seconds(10));
    j = r.ok ? nlohmann::json::parse(r.res.body, nullptr, false) : nlohmann::json();
    if (pred(j)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return j;
}

const nlohmann::json whole_10mib = {{"bytes", ten_mib}, {"ok", true}};

}  // namespace

TEST_CASE("large messages: a 10 MiB request/reply round trip, to the primary and to another worker") {
  cluster_process c(fixture_args());
  const auto port = c.wait_listening();
  REQUIRE(port != 0);
  auto w0 = connect_to_slot(port, 0);
  REQUIRE(w0);
  const std::string fill = "fill=" + std::to_string(ten_mib) + "&key=echo&timeout_ms=20000";
  // 10 MiB each way; the fixture checks every byte of what came back.
  const auto primary = post_json(*w0, "/ask?" + fill);
  CHECK(primary["error"] == "ok");
  CHECK(primary["reply"]["echo"] == whole_10mib);
  const auto worker = post_json(*w0, "/ask?to=1&" + fill);
  CHECK(worker["error"] == "ok");
  CHECK(worker["reply"]["echo"] == whole_10mib);
  CHECK(worker["reply"]["slot"] == 1);
  // Small ones still work after the big ones, and one over 16 MiB is refused at the sender.
  CHECK(post_json(*w0, "/ask?fill=10&key=echo")["reply"]["echo"] == "ahovcjqxel");
  CHECK(request_on(*w0, "POST", "/ask?to=1&key=echo&fill=" + std::to_string(17 * 1024 * 1024)).res.body == "refused");
  CHECK(c.count("dropped") == 0);
}

TEST_CASE("large messages: a 10 MiB publish reaches every worker, in order with small ones") {
  cluster_process c(fixture_args());
  auto both = connect_both(c);
  auto& w0 = both.w0;
  auto& w1 = both.w1;
  CHECK(request_on(*w1, "POST", "/publish", R"({"n":1})").res.body == "sent");
  CHECK(request_on(*w1, "POST", "/publish?fill=" + std::to_string(ten_mib), "", 30s).res.body == "sent");
  CHECK(request_on(*w1, "POST", "/publish", R"({"n":2})").res.body == "sent");
  // The primary publishes a big one too (asked by a message of 2 MiB from slot 0).
  CHECK(request_on(*w0, "POST", "/send?key=publish&fill=" + std::to_string(2 << 20)).res.body == "sent");
  for (client* w : {w0.get(), w1.get()}) {
    const auto j = poll_json(*w, "/events", [](const nlohmann::json& e) { return e.is_object() && e["events"].size() >= 4; });
    REQUIRE(j.is_object());
    const auto& ev = j["events"];
    REQUIRE(ev.size() == 4);
    // In publish order per publisher: slot 1's three in order; the primary's may come anywhere
    // between them (its publish can overtake a 10 MiB one still travelling from slot 1).
    std::vector<nlohmann::json> from_w1;
    int from_primary = 0;
    for (const auto& e : ev) {
      if (e == nlohmann::json{{"bytes", 2 << 20}, {"ok", true}}) {
        ++from_primary;
      } else {
        from_w1.push_back(e);
      }
    }
    CHECK(from_primary == 1);
    REQUIRE(from_w1.size() == 3);
    CHECK(from_w1[0]["n"] == 1);
    CHECK(from_w1[1]["fill"] == whole_10mib);
    CHECK(from_w1[2]["n"] == 2);
  }
}

TEST_CASE("large messages: on_message, relay and broadcast carry megabytes") {
  cluster_process c(fixture_args());
  auto both = connect_both(c);
  auto& w0 = both.w0;
  auto& w1 = both.w1;
  const std::string mib3 = std::to_string(3 << 20);
  const nlohmann::json whole3 = {{"bytes", 3 << 20}, {"ok", true}};
  // Worker → primary (its on_message logs a summary) → the same worker (worker_handle::send).
  CHECK(request_on(*w0, "POST", "/send?key=echo&fill=" + mib3).res.body == "sent");
  CHECK(c.wait_for(R"({"echo":{"bytes":3145728,"ok":true}})"));
  // Slot 1 → slot 0 through the primary.
  CHECK(request_on(*w1, "POST", "/relay?to=0&key=note&fill=" + mib3).res.body == "sent");
  // Broadcast from the primary to both.
  CHECK(request_on(*w1, "POST", "/send?key=broadcast&fill=" + mib3).res.body == "sent");
  const auto has = [](const nlohmann::json& inbox, int from, const char* key, const nlohmann::json& v) {
    if (!inbox.is_array()) return false;
    for (const auto& m : inbox) {
      if (m["from"] == from && m["data"].contains(key) && m["data"][key] == v) return true;
    }
    return false;
  };
  const auto in0 = poll_json(*w0, "/inbox", [&](const nlohmann::json& j) {
    return has(j, -1, "echo", whole3) && has(j, 1, "note", whole3) && has(j, -1, "greeting", whole3);
  });
  CHECK(has(in0, -1, "echo", whole3));
  CHECK(has(in0, 1, "note", whole3));
  CHECK(has(in0, -1, "greeting", whole3));
  const auto in1 = poll_json(*w1, "/inbox", [&](const nlohmann::json& j) { return has(j, -1, "greeting", whole3); });
  CHECK(has(in1, -1, "greeting", whole3));
}

TEST_CASE("a channel puts pieces together, and drops pieces cut short or over the limit") {
  using namespace hive::detail;
  int fds[2];
  make_channel_pair(fds);
  asio::io_context io(1);
  std::vector<nlohmann::json> got;
  bool closed = false;
  ipc_channel reader(io, fds[0], "the test");
  reader.start([&](nlohmann::json&& m) { got.push_back(std::move(m)); }, [&] { closed = true; });

  // A sending channel in the same loop: 5 MiB, then a small one, arrive whole and in order.
  int pair2[2];
  make_channel_pair(pair2);
  {
    ipc_channel a(io, pair2[0], "a");
    ipc_channel b(io, pair2[1], "b");
    std::vector<nlohmann::json> at_b;
    b.start([&](nlohmann::json&& m) { at_b.push_back(std::move(m)); }, [] {});
    const std::string big(5 << 20, 'z');
    REQUIRE(a.send({{"t", "big"}, {"v", big}}));
    REQUIRE(a.send({{"t", "small"}}));
    for (int i = 0; i < 500 && at_b.size() < 2; ++i) io.run_for(std::chrono::milliseconds(10));
    REQUIRE(at_b.size() == 2);
    CHECK(at_b[0]["v"] == big);
    CHECK(at_b[1]["t"] == "small");
  }

  // Raw packets into `reader`: pieces with no last one, then a whole message (the cut-short one
  // is dropped, the whole one delivered); pieces adding up past 16 MiB (dropped to their last
  // piece), then a good two-piece message.
  const auto packet = [&](char marker, const std::string& body) {
    std::string p;
    if (marker != 0) p += marker;
    p += body;
    // Blocking would stall the test: the reader runs on this thread, so drain between sends.
    while (::send(fds[1], p.data(), p.size(), MSG_DONTWAIT) < 0) io.run_for(std::chrono::milliseconds(1));
  };
  packet(piece_more, R"({"t":"cut",)");
  packet(0, R"({"t":"ok","n":1})");
  const std::string chunk(max_packet_bytes - 1, ' ');
  for (std::size_t sent = 0; sent <= hive::worker::max_message_bytes; sent += chunk.size()) packet(piece_more, chunk);
  packet(piece_last, "}");
  packet(piece_more, R"({"t":"ok",)");
  packet(piece_last, R"("n":2})");
  ::close(fds[1]);
  for (int i = 0; i < 200 && !closed; ++i) io.run_for(std::chrono::milliseconds(10));
  REQUIRE(got.size() == 2);
  CHECK(got[0]["n"] == 1);
  CHECK(got[1]["n"] == 2);
  CHECK(closed);
}

TEST_CASE("a full channel refuses messages but still queues control messages (subscriptions)") {
  using namespace hive::detail;
  int fds[2];
  make_channel_pair(fds);
  asio::io_context io(1);
  {
    ipc_channel a(io, fds[0], "a");
    // The peer reads nothing: 8 MiB messages fill the queue (and the socket), then 1 KiB ones
    // and empty ones what room is left, until even an empty one is refused.
    int queued = 0;
    for (const std::size_t size : {std::size_t{8} << 20, std::size_t{1024}, std::size_t{0}}) {
      const std::string v(size, 'q');
      int n = 0;
      while (a.send({{"t", "fill"}, {"v", v}}) && n < 100000) ++n;
      REQUIRE(n < 100000);
      queued += n;
    }
    CHECK_FALSE(a.send({{"t", "fill"}, {"v", ""}}));
    CHECK(a.send_control({{"t", "sub"}, {"topic", "room"}}));
    // The allowance is bounded too: control messages cannot grow the queue without end.
    int controls = 1;
    while (a.send_control({{"t", "sub"}, {"topic", std::string(1000, 'r')}}) && controls < 5000) ++controls;
    CHECK(controls < 5000);
    CHECK(controls > 500);  // about max_control_bytes of them

    // The peer reads now: the queued big messages, then the first control message, in order.
    ipc_channel b(io, fds[1], "b");
    std::vector<std::string> kinds;
    b.start([&](nlohmann::json&& m) { kinds.push_back(m.value("t", "")); }, [] {});
    for (int i = 0; i < 1000 && kinds.size() < static_cast<std::size_t>(queued + controls); ++i) {
      io.run_for(std::chrono::milliseconds(10));
    }
    REQUIRE(kinds.size() == static_cast<std::size_t>(queued + controls));
    for (int i = 0; i < queued; ++i) REQUIRE(kinds[i] == "fill");
    CHECK(kinds[queued] == "sub");
  }
}

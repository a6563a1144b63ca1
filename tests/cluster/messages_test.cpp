// Messages both ways, broadcast, relay, and a channel that receives garbage.
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include <asio/io_context.hpp>
#include <doctest/doctest.h>

#include "cluster/cpu_count.hpp"
#include "cluster/ipc_channel.hpp"
#include "cluster/restart_policy.hpp"
#include "cluster_test_util.hpp"

using namespace hive::test;

namespace {
// Polls `path` on `c` until its body contains `text`.
bool eventually(client& c, const std::string& path, const std::string& text) {
  for (int i = 0; i < 100; ++i) {
    auto r = request_on(c, "GET", path);
    if (r.ok && r.res.body.find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}
}  // namespace

TEST_CASE("messages: worker to primary and back, broadcast to all, relay between workers") {
  cluster_process c(fixture_args());
  auto both = connect_both(c);
  auto& w0 = both.w0;
  auto& w1 = both.w1;

  // Both ways: slot 0 → primary (its `message` event) → back to slot 0.
  CHECK(request_on(*w0, "POST", "/send", R"({"echo":"ping-1"})").res.body == "sent");
  CHECK(c.wait_for(R"(fixture message slot=0 {"echo":"ping-1"})"));
  CHECK(eventually(*w0, "/inbox", R"({"data":{"echo":"ping-1"},"from":-1})"));

  // Broadcast: asked for by slot 1, applied by every worker.
  CHECK(request_on(*w1, "POST", "/send", R"({"broadcast":"Hola"})").res.body == "sent");
  CHECK(eventually(*w0, "/greeting", "Hola"));
  CHECK(eventually(*w1, "/greeting", "Hola"));

  // Relay: slot 1 → slot 0 through the primary, arriving with from = 1.
  CHECK(request_on(*w1, "POST", "/relay?to=0", R"({"note":"from one"})").res.body == "sent");
  CHECK(eventually(*w0, "/inbox", R"({"data":{"note":"from one"},"from":1})"));
  CHECK(request_on(*w1, "POST", "/relay?to=7", R"({"x":1})").res.body == "refused");
  // A relay just under the limit in its own envelope, but over it in the one the primary forwards
  // it in ({"data":…,"from":1,"t":"message"}, 4 bytes longer): refused at the sender, not
  // accepted and then silently dropped.
  const auto blob = [](std::size_t n) { return "/relay?to=0&key=blob&fill=" + std::to_string(n); };
  const std::size_t envelope = 39;  // {"data":{"blob":"…"},"t":"relay","to":0} around the bytes
  CHECK(request_on(*w1, "POST", blob(hive::worker::max_message_bytes - envelope - 2)).res.body == "refused");
  CHECK(request_on(*w1, "POST", blob(60000)).res.body == "sent");
  CHECK(eventually(*w0, "/inbox", R"({"data":{"blob":{"bytes":60000,"ok":true}},"from":1})"));

  // Past one packet (64 KiB) is fine; past 16 MiB is refused at the sender, logged; the worker
  // keeps serving.
  CHECK(request_on(*w0, "POST", "/send?key=blob&fill=" + std::to_string(70 * 1024)).res.body == "sent");
  CHECK(c.wait_for(R"(fixture message slot=0 {"blob":{"bytes":71680,"ok":true}})"));
  CHECK(request_on(*w0, "POST", "/send?key=blob&fill=" + std::to_string(17 << 20)).res.body == "refused");
  CHECK(c.wait_for("refused to send a"));
  CHECK(request_on(*w0, "GET", "/pid").res.status == 200);
}

TEST_CASE("a channel drops malformed and oversized messages and keeps going") {
  int fds[2];
  hive::detail::make_channel_pair(fds);
  asio::io_context io(1);
  std::vector<nlohmann::json> got;
  bool closed = false;
  hive::detail::ipc_channel ch(io, fds[0], "the test");
  ch.start([&](nlohmann::json&& m) { got.push_back(std::move(m)); }, [&] { closed = true; });
  const std::string big(hive::detail::max_packet_bytes + 10, '{');
  for (const std::string& raw : {std::string("not json"), std::string("[1,2]"), std::string(R"({"no":"type"})"),
                                 big, std::string(R"({"t":"ok","n":1})"), std::string("{\"t\":\"cut")}) {
    REQUIRE(::send(fds[1], raw.data(), raw.size(), 0) == static_cast<ssize_t>(raw.size()));
  }
  ::close(fds[1]);
  io.run_for(std::chrono::milliseconds(500));
  REQUIRE(got.size() == 1);
  CHECK(got[0]["n"] == 1);
  CHECK(closed);
  CHECK(!ch.send({{"t", "late"}}));
}

TEST_CASE("restart policy: at once, then ×1.5 back-off; given up past --max-restarts quick crashes") {
  using ms = std::chrono::milliseconds;
  hive::detail::restart_policy p(3, ms(1000));
  CHECK(p.on_crash(ms(10)).delay == ms(0));
  CHECK(p.on_crash(ms(10)).delay == ms(100));
  CHECK(p.on_crash(ms(10)).delay == ms(150));
  CHECK(p.on_crash(ms(10)).give_up);
  hive::detail::restart_policy q(2, ms(1000));
  q.on_crash(ms(10));
  q.on_crash(ms(10));
  const auto d = q.on_crash(ms(5000));  // it had been stable: the count starts over
  CHECK(!d.give_up);
  CHECK(d.quick_crashes == 0);
  CHECK(q.on_crash(ms(61'000)).delay == ms(0));  // a stable minute resets the back-off
}

TEST_CASE("cgroup cpu.max quota in CPUs") {
  using hive::detail::cpus_from_cpu_max;
  CHECK(cpus_from_cpu_max("max 100000") == std::nullopt);
  CHECK(cpus_from_cpu_max("150000 100000") == 2);
  CHECK(cpus_from_cpu_max("50000 100000") == 1);
  CHECK(cpus_from_cpu_max("200000 100000\n") == 2);
  CHECK(hive::detail::usable_cpus() >= 1);
}

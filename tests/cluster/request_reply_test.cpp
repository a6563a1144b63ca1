// hive::worker::request and cluster::on_request over the real channel: replies matched to their
// requests, a reply from a timer on cluster.io(), timeouts, a handler that throws or answers too
// much, and the primary dying with a request pending; request_worker between workers the same way.
#include <csignal>
#include <thread>

#include <doctest/doctest.h>

#include "cluster_test_util.hpp"

using namespace hive::test;

namespace {
nlohmann::json ask(client& c, const std::string& body, int timeout_ms = 2000) {
  const auto r = request_on(c, "POST", "/ask?timeout_ms=" + std::to_string(timeout_ms), body, std::chrono::seconds(5));
  if (!r.ok) return "no response";
  return nlohmann::json::parse(r.res.body, nullptr, false);
}
}  // namespace

TEST_CASE("request/reply: matched replies, timer replies, timeouts, failures") {
  cluster_process c(fixture_args());
  auto both = connect_both(c);
  auto& w0 = both.w0;
  auto& w1 = both.w1;

  // Each worker gets its own answer (the primary saw who asked).
  CHECK(ask(*w0, R"({"echo":"a"})") == nlohmann::json::parse(R"({"error":"ok","reply":{"echo":"a","slot":0}})"));
  CHECK(ask(*w1, R"({"echo":"b"})") == nlohmann::json::parse(R"({"error":"ok","reply":{"echo":"b","slot":1}})"));
  // Answered later from a timer on the primary's loop.
  CHECK(ask(*w0, R"({"later_ms":100})")["reply"] == nlohmann::json::parse(R"({"later":true})"));
  // Answered after the worker stopped waiting: a timeout, and the late reply is dropped.
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(ask(*w0, R"({"later_ms":600})", 200)["error"] == "timeout");
  const auto waited = std::chrono::steady_clock::now() - t0;
  CHECK(waited >= std::chrono::milliseconds(190));
  CHECK(waited < std::chrono::milliseconds(550));
  CHECK(ask(*w0, R"({"never":1})", 150)["error"] == "timeout");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the late reply arrives, ignored
  CHECK(ask(*w0, R"({"echo":"still"})")["reply"]["echo"] == "still");
  // A handler that throws, a reply over the message limit: errors, not silence.
  CHECK(ask(*w1, R"({"throw":1})")["error"] == "handler_failed");
  CHECK(c.wait_for("fixture request handler fails"));
  CHECK(ask(*w1, R"({"big":17000000})")["error"] == "handler_failed");  // over 16 MiB
  CHECK(ask(*w1, R"({"big":200000})")["reply"]["big"]["bytes"] == 200000);  // in pieces
  // A request over the limit is refused at the sender.
  CHECK(request_on(*w1, "POST", "/ask?fill=17000000").res.body == "refused");

  // The primary dies with a request pending: the worker answers it with peer_gone.
  nlohmann::json pending;
  std::thread asker([&] { pending = ask(*w0, R"({"never":1})", 8000); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ::kill(c.pid(), SIGKILL);
  asker.join();
  CHECK(pending["error"] == "peer_gone");
}

TEST_CASE("request/reply to another worker: answered by its on_request; timeouts, errors, its death") {
  cluster_process c(fixture_args());
  const auto port = c.wait_listening();
  REQUIRE(port != 0);
  int pid1 = 0;
  auto w0 = connect_to_slot(port, 0);
  auto w1 = connect_to_slot(port, 1, &pid1);
  REQUIRE(w0);
  REQUIRE(w1);
  const auto ask_to = [](client& w, int to, const std::string& body, int timeout_ms = 2000) {
    const auto r = request_on(w, "POST", "/ask?to=" + std::to_string(to) + "&timeout_ms=" + std::to_string(timeout_ms),
                              body, std::chrono::seconds(10));
    return r.ok ? nlohmann::json::parse(r.res.body, nullptr, false) : nlohmann::json("no response");
  };

  // Slot 0 asks slot 1, slot 1 asks slot 0, and each asks itself: the answer names both.
  CHECK(ask_to(*w0, 1, R"({"echo":"x"})") ==
        nlohmann::json::parse(R"({"error":"ok","reply":{"echo":"x","slot":1,"from":0}})"));
  CHECK(ask_to(*w1, 0, R"({"echo":"y"})")["reply"] == nlohmann::json::parse(R"({"echo":"y","slot":0,"from":1})"));
  CHECK(ask_to(*w0, 0, R"({"echo":"me"})")["reply"]["slot"] == 0);
  // Answered later from the worker's own loop; too late is a timeout, the late answer dropped.
  CHECK(ask_to(*w0, 1, R"({"later_ms":100})")["reply"] == nlohmann::json{{"later", 1}});
  CHECK(ask_to(*w0, 1, R"({"later_ms":600})", 200)["error"] == "timeout");
  CHECK(ask_to(*w0, 1, R"({"never":1})", 150)["error"] == "timeout");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(ask_to(*w0, 1, R"({"echo":"after"})")["reply"]["echo"] == "after");
  // A handler that throws; a slot out of range (refused at the sender); no handler at all.
  CHECK(ask_to(*w0, 1, R"({"throw":1})")["error"] == "handler_failed");
  CHECK(c.wait_for("fixture worker request handler fails"));
  CHECK(request_on(*w0, "POST", "/ask?to=7", R"({"echo":1})").res.body == "refused");

  // The worker asked dies with the request pending: the asker learns it at once, not at its
  // timeout (8 s).
  nlohmann::json pending;
  std::thread asker([&] { pending = ask_to(*w0, 1, R"({"never":1})", 8000); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto t0 = std::chrono::steady_clock::now();
  ::kill(pid1, SIGKILL);
  asker.join();
  CHECK(pending["error"] == "peer_gone");
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));

  // Its replacement answers; once it drops its handler, asks get no_handler.
  REQUIRE(c.wait_for("worker for slot 1 listening", 10s, 1));
  CHECK(ask_to(*w0, 1, R"({"unset":1})")["reply"] == "unset");
  CHECK(ask_to(*w0, 1, R"({"echo":1})")["error"] == "no_handler");
}

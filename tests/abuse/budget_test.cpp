// The worker's memory budgets (--max-worker-output, --max-worker-input) against hello in a child:
// many clients that each stay under their own connection's caps but together would hold far more
// than the worker's budget. The worker sheds the greediest and stays bounded; a well-behaved
// client is still served. Small budgets, so the floods are small and quick.
#include <doctest/doctest.h>

#include <unistd.h>

#include <thread>

#include "abuse/abuse.hpp"
#include "support/client.hpp"

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace budget_test {

constexpr std::size_t mib = 1024 * 1024;

bool served(std::uint16_t port) {
  hive::test::client c(port);
  c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  const auto r = c.read_responses(1, 3s);
  return r.responses.size() == 1 && r.responses[0].status == 200;
}

// A large POST /echo on a fresh connection, read in full like a normal client.
bool echoed(std::uint16_t port, std::size_t bytes) {
  hive::test::client c(port);
  c.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: " + std::to_string(bytes) +
         "\r\n\r\n" + std::string(bytes, 'e'));
  const auto r = c.read_responses(1, 5s);
  return r.responses.size() == 1 && r.responses[0].status == 200 &&
         r.responses[0].body.size() == bytes;
}

// How many of `fds` the server closed (reads what is there: call it once the flood is over).
int closed_by_server(const std::vector<int>& fds) {
  int n = 0;
  for (int fd : fds) {
    std::string ignored;
    n += abuse::read_now(fd, ignored) ? 0 : 1;
  }
  return n;
}

}  // namespace budget_test

using budget_test::mib;

TEST_CASE("abuse: clients that never read large answers are shed at the worker's output budget") {
  abuse::raise_nofile();
  // Long timeouts: only the budget may close anyone here.
  abuse::hello srv({"--max-worker-output", "4MiB", "--max-worker-input", "4MiB",
                    "--write-timeout", "60s", "--header-timeout", "60s", "--body-timeout", "60s"});
  REQUIRE(srv.port() != 0);
  REQUIRE(budget_test::echoed(srv.port(), 1024));  // warm up
  const std::size_t baseline = abuse::rss_bytes(srv.pid());
  // 24 clients, each pipelining five 1 MB echoes and reading none of the answers. The kernel
  // takes the first 4 MB of each (loopback's send buffer); then the worker holds a body, an
  // answer and its queued copies (under the 1 MiB output cap plus one answer): about 3 MB a
  // client, 70 MB in all without a budget.
  constexpr int clients = 24;
  constexpr std::size_t body = 1'000'000;
  std::string all;
  for (int i = 0; i < 5; ++i) {
    all += "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: " + std::to_string(body) + "\r\n\r\n";
    all += std::string(body, 'x');
  }
  std::vector<int> fds;
  std::vector<std::size_t> sent(clients, 0);
  for (int i = 0; i < clients; ++i) {
    fds.push_back(abuse::open_client(srv.port(), 16 * 1024));
    REQUIRE(fds.back() >= 0);
  }
  std::size_t peak = baseline;
  const auto t0 = clock_type::now();
  for (bool more = true; more && clock_type::now() - t0 < 3s;) {
    more = false;
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (sent[i] >= all.size()) continue;
      const long n = abuse::send_some(fds[i], std::string_view(all).substr(sent[i], 64 * 1024));
      sent[i] = n < 0 ? all.size() : sent[i] + static_cast<std::size_t>(n);  // < 0: closed
      more = more || sent[i] < all.size();
    }
    peak = std::max(peak, abuse::rss_bytes(srv.pid()));
    std::this_thread::sleep_for(1ms);
  }
  std::this_thread::sleep_for(300ms);  // the last bodies handled, the last shed done
  peak = std::max(peak, abuse::rss_bytes(srv.pid()));
  const int closed = budget_test::closed_by_server(fds);
  MESSAGE("RSS baseline " << baseline / 1024 << " KiB, peak " << peak / 1024 << " KiB; "
                          << closed << " of " << clients << " never-reading clients shed");
  CHECK(closed > clients / 2);  // 4 + 4 MiB hold a couple of them, not 24
  CHECK(srv.output().find("over a memory budget") != std::string::npos);
  // Budgets of 4 + 4 MiB, pools and malloc's slack; far from the ~70 MB the flood asked for.
  // The slack varies: peaks of 14–18 MiB over the baseline in most runs, 34–38 MiB in 2 of 9
  // (freed 1 MB bodies left in malloc's heap); 48 MiB stays well under what the flood holds
  // without the budgets (about 70 MB, above).
  if (abuse::rss_meaningful) CHECK(peak < baseline + 48 * mib);
  // A well-behaved client is answered, a large answer too, while the rest still hold theirs.
  CHECK(budget_test::served(srv.port()));
  CHECK(budget_test::echoed(srv.port(), body));
  for (int fd : fds) ::close(fd);
}

TEST_CASE("abuse: slowloris partial heads are shed at the worker's input budget, oldest first") {
  abuse::raise_nofile();
  abuse::hello srv({"--max-worker-input", "1MiB", "--header-timeout", "60s"});
  REQUIRE(srv.port() != 0);
  REQUIRE(budget_test::served(srv.port()));
  const std::size_t baseline = abuse::rss_bytes(srv.pid());
  // 2000 partial heads of 8 KiB, never finished: each holds a 16 KiB input buffer, 31 MiB in all
  // without a budget; 1 MiB holds about 60 of them.
  constexpr int clients = 2000;
  const std::string partial = "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: " + std::string(8 * 1024, 'p');
  std::vector<int> fds;
  for (int i = 0; i < clients; ++i) {
    fds.push_back(abuse::open_client(srv.port()));
    REQUIRE(fds.back() >= 0);
    REQUIRE(abuse::send_some(fds.back(), partial) == static_cast<long>(partial.size()));
  }
  std::this_thread::sleep_for(500ms);
  const std::size_t rss = abuse::rss_bytes(srv.pid());
  const int closed = budget_test::closed_by_server(fds);
  MESSAGE("RSS baseline " << baseline / 1024 << " KiB, after " << clients << " partial heads "
                          << rss / 1024 << " KiB; " << closed << " of them shed");
  CHECK(closed >= clients - 70);
  CHECK(closed < clients);
  // The oldest went first: the newest are the ones still waiting for the rest of their head.
  CHECK(budget_test::closed_by_server({fds.end() - 30, fds.end()}) == 0);
  if (abuse::rss_meaningful) CHECK(rss < baseline + 12 * mib);
  CHECK(budget_test::served(srv.port()));
  for (int fd : fds) ::close(fd);
}

// hive inside a program that already owns an asio::io_context: the server shares the loop with
// the program's own timers and sockets. Here a timer counts ticks that a route reports, and a
// deferred route answers from a timer of the same loop, and a streamed one writes a line per
// timer tick.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>

#include <hive/hive.hpp>

int main(int argc, char** argv) {
  const auto opts = hive::options::from_args(argc, argv);
  asio::io_context io(1);

  // The program's own work on the loop.
  long ticks = 0;
  asio::steady_timer ticker(io);
  std::function<void()> tick = [&] {
    ticker.expires_after(std::chrono::milliseconds(100));
    ticker.async_wait([&](const asio::error_code& ec) {
      if (ec) return;
      ++ticks;
      tick();
    });
  };
  tick();

  hive::app app;
  app.get("/ticks", [&](const hive::request&, hive::response& res) {
    res.json({{"ticks", ticks}});
  });
  app.get("/wait/:ms", [&](const hive::request& req, hive::response& res) {
    const int ms = std::atoi(std::string(*req.param("ms")).c_str());
    auto later = res.defer();
    auto timer = std::make_shared<asio::steady_timer>(io, std::chrono::milliseconds(ms));
    timer->async_wait([later, timer, ms](const asio::error_code&) mutable {
      later.finish([ms](hive::response& r) { r.text("waited " + std::to_string(ms) + " ms\n"); });
    });
  });

  // 1, 2, … n, one line every 20 ms: the body is written as the loop's timer fires.
  app.get("/count/:n", [&](const hive::request& req, hive::response& res) {
    const int n = std::atoi(std::string(*req.param("n")).c_str());
    auto out = res.stream("text/plain");
    auto timer = std::make_shared<asio::steady_timer>(io);
    out.on_close([timer] { timer->cancel(); });  // the client left: stop counting
    auto next = std::make_shared<std::function<void(int)>>();
    *next = [out, timer, n, next](int i) mutable {
      if (i > n) {
        out.end();
        *next = nullptr;  // it holds itself: let go
        return;
      }
      out.write(std::to_string(i) + "\n");
      timer->expires_after(std::chrono::milliseconds(20));
      timer->async_wait([next, i](const asio::error_code& ec) {
        if (ec) {
          *next = nullptr;  // cancelled (the client left): let go of it all
        } else if (*next) {
          (*next)(i + 1);
        }
      });
    };
    (*next)(1);
  });

  hive::server server(io, app, opts);
  try {
    server.listen();
  } catch (const std::system_error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  std::printf("embed listening on %s:%u\n", opts.host.c_str(), server.port());
  std::fflush(stdout);

  asio::signal_set stop(io, SIGINT, SIGTERM);
  stop.async_wait([&](const asio::error_code&, int) {
    ticker.cancel();
    server.shutdown([&] { io.stop(); });
  });
  io.run();
  return 0;
}

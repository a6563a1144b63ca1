// Runs tests/cluster/cluster_fixture as a child process of the test (in its own process group),
// collects its log lines, and offers blocking HTTP helpers against it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "support/client.hpp"

namespace hive::test {

class cluster_process {
 public:
  // `args` go after the fixture's path; `env` entries are "NAME=value" added to the environment.
  // `capture_stdout`: the child's stdout joins its log lines too (else it is the test's).
  // `launcher` runs first with the fixture's path and `args` after its own (e.g.
  // systemd-socket-activate -l ADDRESS, which execs the fixture with the socket as fd 3).
  // `program` runs instead of the fixture when not empty (a copy of it, for the upgrade tests).
  cluster_process(std::vector<std::string> args, std::vector<std::string> env = {}, bool capture_stdout = false,
                  std::vector<std::string> launcher = {}, std::string program = {});
  ~cluster_process();  // SIGKILLs the whole group if still running

  // Waits for the primary's "listening on" line; returns the port (0 on timeout).
  std::uint16_t wait_listening(std::chrono::milliseconds timeout = 10s);
  // Waits for a log line containing `text` that is not among the first `skip` matches.
  std::optional<std::string> wait_for(const std::string& text, std::chrono::milliseconds timeout = 10s,
                                      std::size_t skip = 0);
  std::size_t count(const std::string& text) const;
  std::string log() const;

  void signal(int sig);
  // The exit status (WEXITSTATUS) or -1 on timeout / -2 when killed by a signal.
  int wait_exit(std::chrono::milliseconds timeout = 10s);
  pid_t pid() const { return pid_; }
  std::uint16_t port() const { return port_; }

 private:
  void read_log(int fd);

  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  bool reaped_ = false;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;
  std::thread reader_;
};

struct http_result {
  bool ok = false;  // a complete response arrived
  parsed_response res;
};

// One request on a fresh connection, `Connection: close`.
http_result http_get(std::uint16_t port, const std::string& path, std::chrono::milliseconds timeout = 5s);
http_result http_post(std::uint16_t port, const std::string& path, const std::string& body,
                      std::chrono::milliseconds timeout = 5s);
// One request on an open keep-alive connection.
http_result request_on(client& c, const std::string& method, const std::string& path,
                       const std::string& body = {}, std::chrono::milliseconds timeout = 5s);

// A keep-alive connection to the worker serving `slot` (fresh connections until one lands there).
std::unique_ptr<client> connect_to_slot(std::uint16_t port, int slot, int* pid = nullptr);

}  // namespace hive::test

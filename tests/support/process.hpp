// Runs an example or fixture binary for a test: stderr and stdout captured, a line awaited,
// killed on destruction.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace hive::test {

class process {
 public:
  explicit process(std::vector<std::string> argv);
  ~process();
  process(const process&) = delete;
  process& operator=(const process&) = delete;

  pid_t pid() const { return pid_; }
  // Waits for an output line containing `needle`; returns it, or "" after `timeout`.
  std::string wait_for_line(const std::string& needle, std::chrono::milliseconds timeout);
  // Everything printed so far.
  const std::string& output();
  // Sends `sig` and waits for the exit; returns the wait status, or -1 after `timeout`.
  int stop(int sig, std::chrono::milliseconds timeout);

 private:
  void pump(std::chrono::milliseconds timeout);
  pid_t pid_ = -1;
  int out_ = -1;
  std::string buf_;
};

// The port in a line like "hive 123 listening on 0.0.0.0:8000", or 0.
unsigned short port_in(const std::string& line);

// The build directory's path to an example binary, for tests run by meson from the build dir.
std::string example_path(const std::string& name);

}  // namespace hive::test

#include "support/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>
#include <thread>

namespace hive::test {

process::process(std::vector<std::string> argv) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::dup2(fds[1], STDERR_FILENO);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  out_ = fds[0];
}

process::~process() {
  if (pid_ > 0) stop(SIGKILL, std::chrono::milliseconds(2000));
  if (out_ >= 0) ::close(out_);
}

void process::pump(std::chrono::milliseconds timeout) {
  pollfd p{out_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return;
  char tmp[4096];
  const ssize_t n = ::read(out_, tmp, sizeof tmp);
  if (n > 0) buf_.append(tmp, static_cast<std::size_t>(n));
}

std::string process::wait_for_line(const std::string& needle, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto at = buf_.find(needle);
    if (at != std::string::npos) {
      const auto start = buf_.rfind('\n', at);
      const auto end = buf_.find('\n', at);
      if (end != std::string::npos) {
        return buf_.substr(start == std::string::npos ? 0 : start + 1,
                           end - (start == std::string::npos ? 0 : start + 1));
      }
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return "";
    pump(std::min(left, std::chrono::milliseconds(50)));
  }
}

const std::string& process::output() {
  pump(std::chrono::milliseconds(0));
  return buf_;
}

int process::stop(int sig, std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, sig);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      output();
      return status;
    }
    pump(std::chrono::milliseconds(10));
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return -1;
}

unsigned short port_in(const std::string& line) {
  const auto colon = line.rfind(':');
  if (colon == std::string::npos) return 0;
  return static_cast<unsigned short>(std::atoi(line.c_str() + colon + 1));
}

std::string example_path(const std::string& name) {
  std::string root;
  if (const char* env = std::getenv("HIVE_BUILD_ROOT")) {
    root = env;
  } else {
    // Test binaries live in BUILD/tests/: the build root is two levels up from this executable.
    char self[4096];
    const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
    root = n > 0 ? std::string(self, static_cast<std::size_t>(n)) : std::string("./tests/x");
    root = root.substr(0, root.rfind('/'));
    root = root.substr(0, root.rfind('/'));
  }
  return root + "/examples/" + name + "/" + name;
}

}  // namespace hive::test

#include "cluster_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include <nlohmann/json.hpp>

extern char** environ;

namespace hive::test {

namespace {
const char* fixture_path() {
  const char* p = std::getenv("HIVE_CLUSTER_FIXTURE");
  if (p == nullptr) throw std::runtime_error("HIVE_CLUSTER_FIXTURE is not set (meson test sets it)");
  return p;
}
}  // namespace

cluster_process::cluster_process(std::vector<std::string> args, std::vector<std::string> env, bool capture_stdout,
                                 std::vector<std::string> launcher, std::string program) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
  std::vector<std::string> argv_s = launcher;
  argv_s.push_back(program.empty() ? std::string(fixture_path()) : program);
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_s;
  for (char** e = environ; *e != nullptr; ++e) env_s.emplace_back(*e);
  env_s.insert(env_s.end(), env.begin(), env.end());
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], 2);
  if (capture_stdout) posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  // Nothing else from the test's environment: the primary starts as a service manager starts it,
  // and the close-on-exec test sees only what hive opened.
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setpgroup(&attr, 0);  // its own group: the destructor can kill every worker
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
  const int rc = ::posix_spawn(&pid_, argv[0], &fa, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  ::close(out[1]);
  if (rc != 0) {
    ::close(out[0]);
    throw std::runtime_error(std::string("posix_spawn: ") + std::strerror(rc));
  }
  reader_ = std::thread([this, fd = out[0]] { read_log(fd); });
}

cluster_process::~cluster_process() {
  if (!reaped_) {
    ::kill(-pid_, SIGKILL);
    int st;
    ::waitpid(pid_, &st, 0);
  }
  // Workers may outlive a killed primary for a moment; they hold the pipe until they go.
  ::kill(-pid_, SIGKILL);
  if (reader_.joinable()) reader_.join();
}

void cluster_process::read_log(int fd) {
  std::string buf;
  char tmp[4096];
  for (;;) {
    const ssize_t n = ::read(fd, tmp, sizeof tmp);
    if (n <= 0) break;
    buf.append(tmp, static_cast<std::size_t>(n));
    std::size_t nl;
    while ((nl = buf.find('\n')) != std::string::npos) {
      std::lock_guard lock(mu_);
      lines_.push_back(buf.substr(0, nl));
      buf.erase(0, nl + 1);
      cv_.notify_all();
    }
  }
  ::close(fd);
}

std::optional<std::string> cluster_process::wait_for(const std::string& text,
                                                     std::chrono::milliseconds timeout,
                                                     std::size_t skip) {
  std::unique_lock lock(mu_);
  std::optional<std::string> found;
  cv_.wait_for(lock, timeout, [&] {
    std::size_t seen = 0;
    for (const auto& l : lines_) {
      if (l.find(text) != std::string::npos && seen++ == skip) {
        found = l;
        return true;
      }
    }
    return false;
  });
  return found;
}

std::size_t cluster_process::count(const std::string& text) const {
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (const auto& l : lines_) n += l.find(text) != std::string::npos;
  return n;
}

std::string cluster_process::log() const {
  std::lock_guard lock(mu_);
  std::string s;
  for (const auto& l : lines_) s += l + "\n";
  return s;
}

std::uint16_t cluster_process::wait_listening(std::chrono::milliseconds timeout) {
  const auto line = wait_for(" listening on ", timeout);
  if (!line) return 0;
  port_ = static_cast<std::uint16_t>(std::atoi(line->substr(line->rfind(':') + 1).c_str()));
  return port_;
}

void cluster_process::signal(int sig) { ::kill(pid_, sig); }

int cluster_process::wait_exit(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int st = 0;
    const pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      return WIFEXITED(st) ? WEXITSTATUS(st) : -2;
    }
    if (std::chrono::steady_clock::now() >= deadline) return -1;
    std::this_thread::sleep_for(10ms);
  }
}

namespace {
// One request on `c`; `close` asks the server to close after answering.
http_result send_request(client& c, const std::string& method, const std::string& path,
                         const std::string& body, bool close, std::chrono::milliseconds timeout) {
  std::string raw = method + " " + path + " HTTP/1.1\r\nHost: test\r\n";
  if (close) raw += "Connection: close\r\n";
  if (!body.empty() || method == "POST") {
    raw += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  raw += "\r\n" + body;
  http_result r;
  if (!c.connected() || !c.send(raw)) return r;
  auto rr = c.read_responses(1, timeout);
  if (rr.responses.empty()) return r;
  r.ok = true;
  r.res = rr.responses.front();
  return r;
}

http_result one_shot(std::uint16_t port, const std::string& method, const std::string& path,
                     const std::string& body, std::chrono::milliseconds timeout) {
  client c(port);
  return send_request(c, method, path, body, true, timeout);
}
}  // namespace

http_result request_on(client& c, const std::string& method, const std::string& path,
                       const std::string& body, std::chrono::milliseconds timeout) {
  return send_request(c, method, path, body, false, timeout);
}

http_result http_get(std::uint16_t port, const std::string& path, std::chrono::milliseconds timeout) {
  return one_shot(port, "GET", path, {}, timeout);
}

http_result http_post(std::uint16_t port, const std::string& path, const std::string& body,
                      std::chrono::milliseconds timeout) {
  return one_shot(port, "POST", path, body, timeout);
}

std::unique_ptr<client> connect_to_slot(std::uint16_t port, int slot, int* pid) {
  for (int i = 0; i < 200; ++i) {
    auto c = std::make_unique<client>(port);
    auto r = request_on(*c, "GET", "/pid");
    if (!r.ok) continue;
    const auto j = nlohmann::json::parse(r.res.body, nullptr, false);
    if (j.is_object() && j.value("slot", -1) == slot) {
      if (pid != nullptr) *pid = j.value("pid", 0);
      return c;
    }
  }
  return nullptr;
}

}  // namespace hive::test

#include "ops/binary_upgrade.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>

#include "ops/socket_activation.hpp"

extern char** environ;

namespace hive::detail {

namespace {

constexpr const char* fds_var = "HIVE_LISTEN_FDS";
constexpr const char* ready_var = "HIVE_UPGRADE_READY_FD";

bool same_file(const std::string& a, const char* b) {
  struct stat sa {}, sb {};
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

// `p` against the working directory, "." and ".." folded away ("./app" → "/srv/app").
std::string absolute_path(const std::string& p) {
  char buf[4096];
  const std::string cwd = ::getcwd(buf, sizeof buf) != nullptr ? std::string(buf) : std::string("/");
  return (std::filesystem::path(cwd) / p).lexically_normal().string();
}

// argv[0] as exec would have found it: a path as is (made absolute), a bare name in $PATH.
std::string locate(const std::string& arg0) {
  if (arg0.empty()) return {};
  if (arg0.find('/') != std::string::npos) {
    return absolute_path(arg0);
  }
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  std::size_t start = 0;
  for (;;) {
    const std::size_t end = dirs.find(':', start);
    std::string dir = dirs.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + arg0;
    if (::access(candidate.c_str(), X_OK) == 0) {
      return absolute_path(candidate);
    }
    if (end == std::string::npos) return {};
    start = end + 1;
  }
}

bool is_handover_var(const char* e) {
  for (const char* v : {fds_var, ready_var}) {
    const std::size_t n = std::char_traits<char>::length(v);
    if (std::char_traits<char>::compare(e, v, n) == 0 && e[n] == '=') return true;
  }
  return false;
}

int parse_fd(std::string_view s) {
  int fd = -1;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), fd);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() && fd > 2 ? fd : -1;
}

}  // namespace

own_program find_own_program() {
  own_program p;
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  const std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (std::size_t i = 0; i < all.size();) {
    const std::size_t end = all.find('\0', i);
    p.argv.push_back(all.substr(i, end == std::string::npos ? std::string::npos : end - i));
    if (end == std::string::npos) break;
    i = end + 1;
  }
  if (!p.argv.empty()) {
    if (std::string found = locate(p.argv.front()); !found.empty() && same_file(found, "/proc/self/exe")) {
      p.path = std::move(found);
      return p;
    }
  }
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n > 0) {
    p.path.assign(buf, static_cast<std::size_t>(n));
    constexpr std::string_view deleted = " (deleted)";
    if (p.path.ends_with(deleted)) p.path.resize(p.path.size() - deleted.size());
  }
  return p;
}

started_program start_program(const own_program& prog, const std::vector<int>& listen_fds,
                              const std::vector<std::string>& extra_env) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    throw std::system_error(errno, std::system_category(), "cannot make the upgrade's pipe");
  }
  // Everything the child needs is built here: after fork it may only make async-signal-safe calls.
  std::string fd_list;
  for (int fd : listen_fds) fd_list += (fd_list.empty() ? "" : ",") + std::to_string(fd);
  std::vector<std::string> env_s;
  for (char** e = environ; *e != nullptr; ++e) {
    if (!is_handover_var(*e)) env_s.emplace_back(*e);
  }
  env_s.insert(env_s.end(), extra_env.begin(), extra_env.end());
  env_s.push_back(std::string(fds_var) + "=" + fd_list);
  env_s.push_back(std::string(ready_var) + "=" + std::to_string(pipe_fds[1]));
  std::vector<char*> envp, argv;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_s = prog.argv;
  if (argv_s.empty()) argv_s.push_back(prog.path);
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);

  // Blocked until the child has reset them: a signal meant for the primary must not run the
  // primary's handlers in the child (they write to the primary's own wake-up pipe).
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_BLOCK, &all, &old);
  const pid_t pid = ::fork();
  if (pid == 0) {
    for (int fd : listen_fds) ::fcntl(fd, F_SETFD, 0);
    ::fcntl(pipe_fds[1], F_SETFD, 0);
    struct sigaction sa {};
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &sa, nullptr);  // SIGPIPE's SIG_IGN too
    // Except the operator's signals: until the new primary installs its handlers (its run() and
    // the one-process server both catch them), a SIGHUP, or logrotate's USR1 to the whole unit,
    // would kill it by their default action. SIG_IGN survives exec; a handler would not.
    sa.sa_handler = SIG_IGN;
    for (int sig : {SIGHUP, SIGUSR1, SIGUSR2}) ::sigaction(sig, &sa, nullptr);
    sigset_t none;
    sigemptyset(&none);
    ::pthread_sigmask(SIG_SETMASK, &none, nullptr);
    ::execve(prog.path.c_str(), argv.data(), envp.data());
    ::_exit(127);
  }
  const int fork_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ::close(pipe_fds[1]);
  if (pid < 0) {
    ::close(pipe_fds[0]);
    throw std::system_error(fork_errno, std::system_category(), "cannot fork the new primary");
  }
  return {pid, pipe_fds[0]};
}

inherited_listeners take_inherited_listeners() {
  inherited_listeners out;
  const char* fds = std::getenv(fds_var);
  const char* ready = std::getenv(ready_var);
  const std::string list = fds != nullptr ? fds : "";
  const int ready_fd = ready != nullptr ? parse_fd(ready) : -1;
  ::unsetenv(fds_var);
  ::unsetenv(ready_var);
  if (fds == nullptr) return out;
  if (ready_fd >= 0) {
    ::fcntl(ready_fd, F_SETFD, FD_CLOEXEC);
    out.ready_fd = ready_fd;
  }
  std::size_t start = 0;
  while (start < list.size()) {
    const std::size_t end = std::min(list.find(',', start), list.size());
    const int fd = parse_fd(std::string_view(list).substr(start, end - start));
    if (fd < 0) {
      throw std::runtime_error("hive: $HIVE_LISTEN_FDS is not a list of descriptors: '" + list + "'");
    }
    (void)adopt_listening_tcp(fd, "hive: upgrade: inherited descriptor " + std::to_string(fd),
                              " ($HIVE_LISTEN_FDS is set by the primary on SIGUSR2, not by hand)");
    out.fds.push_back(fd);
    start = end + 1;
  }
  return out;
}

bool report_ready(int& ready_fd) {
  if (ready_fd < 0) return false;
  const char byte = 'R';
  ssize_t n;
  do {
    n = ::write(ready_fd, &byte, 1);
  } while (n < 0 && errno == EINTR);
  ::close(ready_fd);
  ready_fd = -1;
  return n == 1;
}

}  // namespace hive::detail

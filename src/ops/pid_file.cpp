#include "ops/pid_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "util/log.hpp"

namespace hive::detail {

bool write_pid_file(const std::string& path) {
  const std::string text = std::to_string(::getpid()) + "\n";
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int err = 0;
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    err = errno;
  } else {
    if (::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) err = errno != 0 ? errno : EIO;
    ::close(fd);
    if (err == 0 && ::rename(tmp.c_str(), path.c_str()) != 0) err = errno;
  }
  const bool ok = err == 0;
  if (!ok) {
    warn("cannot write the pid file ", path, ": ", std::strerror(err),
         "; serving without it (check --pid-file's directory)");
    ::unlink(tmp.c_str());
  }
  return ok;
}

void remove_pid_file_if_ours(const std::string& path) {
  std::ifstream in(path);
  long pid = 0;
  if (in >> pid && pid == static_cast<long>(::getpid())) ::unlink(path.c_str());
}

}  // namespace hive::detail

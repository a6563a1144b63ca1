#include "ops/privileges.hpp"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace hive::detail {

namespace {

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error("hive: cannot drop privileges: " + what + " (" + std::strerror(errno) + ")");
}

}  // namespace

privilege_drop resolve_privilege_drop(const options& o) {
  privilege_drop d;
  if (o.user.empty()) {
    if (!o.group.empty()) throw std::runtime_error("hive: --group needs --user");
    return d;
  }
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (::getpwnam_r(o.user.c_str(), &pw, buf.data(), buf.size(), &found) != 0 || found == nullptr) {
    throw std::runtime_error("hive: --user " + o.user + ": no such user");
  }
  d.active = true;
  d.user = o.user;
  d.uid = pw.pw_uid;
  d.gid = pw.pw_gid;
  if (!o.group.empty()) {
    group gr{};
    group* g = nullptr;
    if (::getgrnam_r(o.group.c_str(), &gr, buf.data(), buf.size(), &g) != 0 || g == nullptr) {
      throw std::runtime_error("hive: --group " + o.group + ": no such group");
    }
    d.gid = gr.gr_gid;
    d.group = o.group;
  }
  if (::geteuid() != 0 && (::geteuid() != d.uid || ::getegid() != d.gid)) {
    throw std::runtime_error("hive: --user " + o.user + " needs hive started as root (it runs as uid " +
                             std::to_string(::geteuid()) + ")");
  }
  return d;
}

void drop_privileges(const privilege_drop& d) {
  if (!d.active) return;
  if (::geteuid() == 0) {
    if (::setgroups(1, &d.gid) != 0) fail("setgroups");
  }
  if (::setgid(d.gid) != 0) fail("setgid " + std::to_string(d.gid));
  if (::setuid(d.uid) != 0) fail("setuid " + std::to_string(d.uid));
  // Checked, not assumed: a dropped process must not be able to get root back.
  if (::getuid() != d.uid || ::geteuid() != d.uid || ::getgid() != d.gid || ::getegid() != d.gid) {
    errno = EPERM;
    fail("the ids did not change");
  }
  if (d.uid != 0 && (::setuid(0) == 0 || ::seteuid(0) == 0)) {
    errno = EPERM;
    fail("root could be regained");
  }
}

}  // namespace hive::detail

// --user and --group: the primary binds (a port below 1024 is fine as root) and reads the TLS
// key as it was started; each worker then drops to the user and group before serving.
#pragma once

#include <sys/types.h>

#include <string>

#include "hive/options.hpp"

namespace hive::detail {

struct privilege_drop {
  bool active = false;  // --user given
  uid_t uid = 0;
  gid_t gid = 0;
  std::string user, group;
};

// Looks the names up, in the primary before any fork. Throws std::runtime_error naming what is
// wrong (an unknown user or group; not root, so unable to become someone else).
privilege_drop resolve_privilege_drop(const options& o);

// In a worker: setgroups (none but the group), setgid, setuid — in that order, since after
// setuid the others are no longer allowed — then checks that none can be undone. Throws
// std::runtime_error if any step fails.
void drop_privileges(const privilege_drop& d);

}  // namespace hive::detail

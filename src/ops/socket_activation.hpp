// systemd socket activation (sd_listen_fds(3)): $LISTEN_PID is this process and $LISTEN_FDS
// counts the sockets passed from descriptor 3 on ($LISTEN_FDNAMES names them). hive adopts the
// first, a listening TCP socket, instead of binding. Every slot gets a dup() of it: the workers
// share one accept queue, and each accepts when epoll wakes it (the one that wins the accept()
// takes the connection; the others find EAGAIN). No reuseport group then, so a slot's worker
// dying leaves no hash share of connections waiting for it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace hive::detail {

struct activated_socket {
  int fd = -1;  // -1: not socket-activated
  std::uint16_t port = 0;
  std::string name;  // from LISTEN_FDNAMES, or ""
};

// Reads and unsets the variables. Throws std::runtime_error when they are set for this process
// but the first descriptor is not a listening TCP socket.
activated_socket take_activated_socket();

// The port `fd` listens on, after checking that it is a listening TCP stream socket (IPv4 or
// IPv6), and marks it close-on-exec. Throws std::runtime_error otherwise: `what` (the
// descriptor), what is wrong, then `hint` (what to do). Socket activation and a binary upgrade's
// inherited listeners are checked alike.
std::uint16_t adopt_listening_tcp(int fd, const std::string& what, const std::string& hint);

}  // namespace hive::detail

// systemd's readiness protocol (sd_notify(3)): newline-separated assignments ("READY=1",
// "STATUS=…") in one datagram to the AF_UNIX socket named by $NOTIFY_SOCKET. In-tree rather than
// libsystemd's sd_notify: the protocol is one sendto(), documented as stable for this purpose,
// and hive then needs no libsystemd at build or run time (containers, other init systems).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace hive::detail {

class sd_notifier {
 public:
  // Takes $NOTIFY_SOCKET (and $WATCHDOG_USEC when $WATCHDOG_PID is absent or this process) and
  // unsets them, so the workers and whatever they start do not speak for the service.
  static sd_notifier from_environment();

  bool enabled() const { return !path_.empty(); }
  // $NOTIFY_SOCKET as it was: a binary upgrade hands it to the new primary.
  const std::string& socket_path() const { return path_; }
  // Zero when systemd asked for no watchdog.
  std::chrono::microseconds watchdog_interval() const { return watchdog_; }
  // Sends `state` ("READY=1\nSTATUS=…"); false when not enabled or the send failed (logged
  // once: a service manager gone is no reason to stop serving).
  bool notify(std::string_view state);

 private:
  std::string path_;  // a file path, or "@name" for the abstract namespace
  std::chrono::microseconds watchdog_{0};
  bool warned_ = false;
};

// "MONOTONIC_USEC=…": CLOCK_MONOTONIC now, as RELOADING=1 wants it.
std::string monotonic_usec_field();

}  // namespace hive::detail

#include "cluster/slot_listeners.hpp"

#include <unistd.h>

#include <asio/ip/tcp.hpp>

#include "net/listener.hpp"

namespace hive::detail {

namespace {

// Binds host:port without SO_REUSEPORT and without listening, then lets it go. Returns the port
// (the chosen one when `port` is 0).
std::uint16_t check_address_free(asio::io_context& io, const options& opts) {
  const auto probe = bind_address(io, opts.host, opts.port, /*reuse_port=*/false);
  return probe.local_endpoint().port();
}

}  // namespace

slot_listeners bind_slot_listeners(asio::io_context& io, const options& opts, int slots) {
  slot_listeners out;
  out.port = check_address_free(io, opts);
  try {
    for (int k = 0; k < slots; ++k) {
      auto acc = bind_listener(io, opts.host, out.port, /*reuse_port=*/true);
      out.fds.push_back(acc.release());
    }
  } catch (...) {
    for (int fd : out.fds) ::close(fd);
    throw;
  }
  return out;
}

}  // namespace hive::detail

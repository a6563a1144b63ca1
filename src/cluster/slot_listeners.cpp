#include "cluster/slot_listeners.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <system_error>

#include <asio/ip/tcp.hpp>

#include "net/listener.hpp"

namespace hive::detail {

namespace {

// Binds host:port without SO_REUSEPORT and without listening, then lets it go. Returns the port
// (the chosen one when `port` is 0).
std::uint16_t check_address_free(asio::io_context& io, const options& opts) {
  asio::error_code ec;
  const auto addr = asio::ip::make_address(opts.host, ec);
  if (ec) {
    throw std::system_error(ec, "hive: '" + opts.host +
                                    "' is not an IP address; pass --host with an IPv4 or IPv6 address");
  }
  const asio::ip::tcp::endpoint ep(addr, opts.port);
  asio::ip::tcp::acceptor probe(io);
  probe.open(ep.protocol(), ec);
  if (!ec) probe.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) probe.bind(ep, ec);
  if (ec == asio::error::address_in_use) {
    throw std::system_error(ec, "hive: port " + std::to_string(opts.port) + " on " + opts.host +
                                    " is in use (another server listens there; hive will not "
                                    "share it); stop that server or choose another with --port");
  }
  if (ec == asio::error::access_denied) {
    throw std::system_error(ec, "hive: may not bind " + opts.host + ":" + std::to_string(opts.port) +
                                    " (ports below 1024 need privileges); choose another with --port");
  }
  if (ec) throw std::system_error(ec, "hive: cannot bind " + opts.host + ":" + std::to_string(opts.port));
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

// The primary's listening sockets: first a check that nothing listens on the address yet (a bind
// without SO_REUSEPORT — otherwise a second instance would silently join the first one's
// reuseport group and take a share of its traffic), then one SO_REUSEPORT listener per slot.
#pragma once

#include <cstdint>
#include <vector>

#include <asio/io_context.hpp>

#include "hive/options.hpp"
#include "ops/socket_activation.hpp"

namespace hive::detail {

struct slot_listeners {
  std::vector<int> fds;  // one per slot, owned by the primary
  std::uint16_t port = 0;
};

// Throws std::system_error whose what() says what is wrong and what to do.
slot_listeners bind_slot_listeners(asio::io_context& io, const options& opts, int slots);
// A socket-activated listener for every slot: the socket itself for slot 0, a dup() for each
// other (closing one slot's never closes another's). Throws std::system_error if dup fails.
slot_listeners share_activated_socket(const activated_socket& s, int slots);
// A binary upgrade: the old primary's listeners (checked, one per slot it served) serve this
// primary's slots as they are — no bind, so the single-instance check is not in the way. More
// slots than sockets: reuseport ones get new members of the group, a shared (socket-activated)
// one a dup(); fewer: the rest are closed. Throws std::system_error as the two above.
slot_listeners adopt_inherited_listeners(asio::io_context& io, const options& opts,
                                         const std::vector<int>& fds, int slots);

}  // namespace hive::detail

// The two facts about Asio's internals that let a hive-owned worker loop wait in one epoll_wait
// for both its own sockets and Asio's work (timers, signals, the cluster channel, users' sockets):
// the descriptor of Asio's epoll set, and the flag that makes Asio interrupt that set when work is
// posted from outside its own run. Asio has no public way to say either; both are read through
// the one standard-sanctioned door to private members (explicit instantiation), and only for the
// Asio version they were checked against — elsewhere hive falls back to nesting its epoll set
// inside Asio's (see poller).
#pragma once

namespace asio {
class io_context;
}

namespace hive::detail::asio_hooks {

// False when this Asio's internals are not the ones checked (the functions below then do nothing).
bool available();
// The descriptor of the io_context's epoll set (it becomes readable when Asio has work).
int reactor_descriptor(asio::io_context& io);
// After io.poll(): Asio's reactor is now "blocked" inside the caller's wait, so work posted from
// outside a handler must interrupt it, as it would during io.run().
void expect_interrupts(asio::io_context& io);

}  // namespace hive::detail::asio_hooks

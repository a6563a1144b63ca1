// Plain TCP. Reads through Asio's own reactor with async_read_some, the one wait that costs no
// extra syscall per request: after a read that emptied the socket Asio queues the next one without
// a syscall and performs it when epoll reports the edge, so a keep-alive request costs one
// epoll_wait, one read and one write. (A wait-only `async_wait` re-arms with epoll_ctl every time.)
// Writes are plain sendmsg/sendfile; a write wait is armed only when the socket is full.
//
// The socket joins the event loop only when the connection first has to wait: a `Connection:
// close` request that arrived with the accept (TCP_DEFER_ACCEPT) is read, answered and closed
// without ever touching epoll.
#pragma once

#include <cstddef>
#include <new>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include "net/transport.hpp"

namespace hive::detail {

// Room for one Asio operation inside the object that waits, so arming a wait allocates nothing
// and an idle connection's pending read costs no separate heap block.
class op_slot {
 public:
  void* take(std::size_t n) {
    if (used_ || n > sizeof bytes_) return ::operator new(n);
    used_ = true;
    return bytes_;
  }
  void give(void* p) {
    if (p == bytes_) {
      used_ = false;
    } else {
      ::operator delete(p);
    }
  }

 private:
  // An io_context socket's receive operation needs 104 bytes on Asio 1.22 (x86-64).
  alignas(std::max_align_t) unsigned char bytes_[112];
  bool used_ = false;
};

template <class T>
struct slot_allocator {
  using value_type = T;
  op_slot* slot;
  explicit slot_allocator(op_slot* s) noexcept : slot(s) {}
  template <class U>
  slot_allocator(const slot_allocator<U>& o) noexcept : slot(o.slot) {}
  T* allocate(std::size_t n) { return static_cast<T*>(slot->take(n * sizeof(T))); }
  void deallocate(T* p, std::size_t) noexcept { slot->give(p); }
  template <class U>
  bool operator==(const slot_allocator<U>& o) const noexcept { return slot == o.slot; }
};

class tcp_transport final : public transport {
 public:
  tcp_transport(asio::io_context& io, int fd) : socket_(io), fd_(fd) {}
  ~tcp_transport() override;
  tcp_transport(const tcp_transport&) = delete;
  tcp_transport& operator=(const tcp_transport&) = delete;

  io_result read(std::span<char> into) override;
  io_result write(std::span<const iovec> iov) override;
  io_result send_file(const output_queue::file_range& range) override;
  void shutdown_write() override;
  void close() override;
  void arm_read(transport_client& c) override;
  void arm_write(transport_client& c) override;
  bool read_armed() const override { return reading_; }
  bool busy() const override { return reading_ || writing_; }

 private:
  bool join_loop();

  using socket_type = asio::basic_stream_socket<asio::ip::tcp, asio::io_context::executor_type>;
  socket_type socket_;
  int fd_;  // -1 once closed
  bool joined_ = false;  // the socket is in Asio's reactor
  bool reading_ = false;
  bool writing_ = false;
  // Only the read: every waiting connection has one armed, while a write waits only when a
  // client does not keep up, and then takes its operation from the heap.
  op_slot read_slot_;
};

}  // namespace hive::detail

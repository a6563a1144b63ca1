// Plain TCP: recv, sendmsg (MSG_NOSIGNAL: a client that went away is an error value, not a
// SIGPIPE, even in a program that embeds hive and did not ignore the signal), sendfile.
#pragma once

#include "net/transport.hpp"

namespace hive::detail {

class tcp_transport final : public transport {
 public:
  explicit tcp_transport(int fd) : fd_(fd) {}
  ~tcp_transport() override { close(); }
  tcp_transport(const tcp_transport&) = delete;
  tcp_transport& operator=(const tcp_transport&) = delete;

  int descriptor() const override { return fd_; }
  io_result read(std::span<char> into) override;
  io_result write(std::span<const iovec> iov) override;
  // The same, with more to follow at once (a file body after its head): MSG_MORE holds a partial
  // packet for the sendfile that follows, so a small file leaves in one packet, not two.
  io_result write_more(std::span<const iovec> iov);
  io_result send_file(const output_queue::file_range& range) override;
  void shutdown_write() override;
  void close() override;

 private:
  int fd_;  // -1 once closed
};

}  // namespace hive::detail

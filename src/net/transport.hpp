// How a connection moves bytes, below the protocol that gives them meaning. Plain TCP now
// (tcp_transport); TLS implements the same calls over OpenSSL, so the HTTP session never knows.
// Every call is non-blocking and tried at once; readiness comes from the worker's poller,
// edge-triggered on descriptor(), so the connection remembers what the last edge said.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <span>

#include "net/output_queue.hpp"

namespace hive::detail {

// The outcome of one non-blocking call.
struct io_result {
  enum class kind : unsigned char { done, would_block, eof, error };
  kind k = kind::done;
  std::size_t n = 0;  // bytes moved, with done
  static io_result moved(std::size_t n) { return {kind::done, n}; }
};

class transport {
 public:
  virtual ~transport() = default;

  // The socket the poller watches.
  virtual int descriptor() const = 0;
  virtual io_result read(std::span<char> into) = 0;
  // One gather write of memory segments.
  virtual io_result write(std::span<const iovec> iov) = 0;
  // A file range, in the kernel where it can (sendfile).
  virtual io_result send_file(const output_queue::file_range& range) = 0;
  virtual void shutdown_write() = 0;
  // Closes the socket. The connection takes it out of the poller's set first: a close leaves
  // the set only when no other reference to the socket remains.
  virtual void close() = 0;
};

}  // namespace hive::detail

// How a connection moves bytes, below the protocol that gives them meaning. Plain TCP now
// (tcp_transport); TLS implements the same calls over OpenSSL, so the HTTP session never knows.
//
// Reads and writes are tried at once (non-blocking); only when the socket has nothing to give or
// no room does the connection arm a wait through the worker's event loop. A transport reports to
// its client (the connection) through `transport_client`.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <span>

#include <asio/error_code.hpp>

#include "net/output_queue.hpp"

namespace hive::detail {

// The outcome of one non-blocking call.
struct io_result {
  enum class kind : unsigned char { done, would_block, eof, error };
  kind k = kind::done;
  std::size_t n = 0;  // bytes moved, with done
  static io_result moved(std::size_t n) { return {kind::done, n}; }
};

class transport_client {
 public:
  // Where the next received bytes go. Asked when the bytes are about to be read, not when the
  // read is armed, so an idle connection need not hold a buffer while it waits.
  virtual std::span<char> input_window() = 0;
  // An armed read finished: `n` bytes are in the window input_window() last returned, or `ec`
  // says why not (asio::error::eof when the peer closed its side).
  virtual void on_read(const asio::error_code& ec, std::size_t n) = 0;
  // An armed write wait finished: the socket has room again, or `ec`.
  virtual void on_writable(const asio::error_code& ec) = 0;

 protected:
  ~transport_client() = default;
};

class transport {
 public:
  virtual ~transport() = default;

  virtual io_result read(std::span<char> into) = 0;
  // One gather write of up to IOV_MAX memory segments.
  virtual io_result write(std::span<const iovec> iov) = 0;
  // A file range, in the kernel where it can (sendfile).
  virtual io_result send_file(const output_queue::file_range& range) = 0;
  virtual void shutdown_write() = 0;
  // Closes the socket; armed waits finish with asio::error::operation_aborted.
  virtual void close() = 0;

  // At most one read and one write wait are armed at a time.
  virtual void arm_read(transport_client& c) = 0;
  virtual void arm_write(transport_client& c) = 0;
  virtual bool read_armed() const = 0;
  // A wait is still to finish (even after close): the transport must not be destroyed yet.
  virtual bool busy() const = 0;
};

}  // namespace hive::detail

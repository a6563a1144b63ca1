// TLS over a connection's socket (OpenSSL's SSL on the descriptor, non-blocking). The same calls
// as a transport: the connection uses it in place of tcp_transport's read/write when the worker
// speaks TLS. The handshake runs inside the first reads. SSL_ERROR_WANT_READ/WANT_WRITE are both
// "would block": a read may need the socket writable (the handshake's flight) and a write
// readable, so the connection retries both directions on any edge (connection::on_events).
#pragma once

#include <span>

#include "net/transport.hpp"

using SSL = struct ssl_st;
using BIO = struct bio_st;

namespace hive::detail {

class tls_stream {
 public:
  explicit tls_stream(SSL* ssl);  // owns `ssl`; the socket stays the transport's
  ~tls_stream();
  tls_stream(const tls_stream&) = delete;
  tls_stream& operator=(const tls_stream&) = delete;

  bool established() const;
  // Fills `into` from as many records as are here: a short read means the socket is empty (or
  // an EOF or error follows, see more_to_read), as for tcp_transport.
  io_result read(std::span<char> into);
  // A short read came before an EOF or an error that the next read returns.
  bool more_to_read() const { return sticky_ != io_result::kind::done; }
  // Gathers the segments into records of up to 16 KiB: a pipelined batch of small responses
  // leaves in one record and one kernel write.
  io_result write(std::span<const iovec> iov);
  // A file range: with sendfile when the kernel does the encryption (kernel TLS), else read
  // into records.
  io_result send_file(const output_queue::file_range& range);
  // The session's keys are in the kernel for sending (kernel TLS is on for this connection).
  bool kernel_sends() const;
  // close_notify, once, if the session is healthy (the caller then half-closes or closes the socket).
  void notify_close();

 private:
  // How the socket reads inside one SSL_read went (seen by a callback on OpenSSL's socket BIO).
  enum class raw_read : unsigned char { none, full, short_read };
  static long on_bio(BIO* b, int oper, const char* argp, std::size_t len, int argi, long argl,
                     int ret, std::size_t* processed);
  io_result outcome(int ret);
  bool plain_http_first();
  io_result write_chunk(const char* data, std::size_t n);
  void answer_plain_http();

  SSL* ssl_;
  raw_read last_raw_ = raw_read::none;
  std::size_t staged_ = 0;  // bytes SSL_write last refused with WANT_*: the retry must repeat them
  io_result::kind sticky_ = io_result::kind::done;
  bool failed_ = false;  // a fatal error: no close_notify
  bool notified_ = false;
  bool first_byte_seen_ = false;  // the client's first byte was looked at (plain HTTP or TLS)
};

}  // namespace hive::detail

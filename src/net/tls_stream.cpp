#include "net/tls_stream.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace hive::detail {

namespace {
// One TLS record's worth of plaintext: what a write gathers before each SSL_write.
constexpr std::size_t record_bytes = 16 * 1024;
// sendfile moves at most this much per call (Linux's own limit).
constexpr std::size_t max_kernel_sendfile = 0x7ffff000;
// The worker's scratch for gathering: a retried write re-gathers the same bytes, which the
// output queue still holds (SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER lets the buffer be the same).
thread_local char scratch[record_bytes];

// nginx answers a plain request on its TLS port with 497; hive answers a plain 400 and closes.
constexpr char plain_http_answer[] =
    "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 46\r\n"
    "Connection: close\r\n\r\nThis port speaks HTTPS: use https:// instead.\n";
static_assert(sizeof "This port speaks HTTPS: use https:// instead.\n" - 1 == 46);
}  // namespace

tls_stream::tls_stream(SSL* ssl) : ssl_(ssl) {
  if (BIO* b = SSL_get_rbio(ssl_)) {
    BIO_set_callback_arg(b, reinterpret_cast<char*>(this));
    BIO_set_callback_ex(b, &tls_stream::on_bio);
  }
}

tls_stream::~tls_stream() { SSL_free(ssl_); }

// With read-ahead OpenSSL asks the socket for a whole buffer; a read that brought back less
// emptied the socket, which is what a short read means on plain TCP.
long tls_stream::on_bio(BIO* b, int oper, const char*, std::size_t len, int, long, int ret,
                        std::size_t* processed) {
  if (oper == (BIO_CB_READ | BIO_CB_RETURN)) {
    auto* self = reinterpret_cast<tls_stream*>(BIO_get_callback_arg(b));
    if (ret > 0 && processed != nullptr) self->last_raw_ = *processed < len ? raw_read::short_read : raw_read::full;
  }
  return ret;
}

bool tls_stream::established() const { return SSL_is_init_finished(ssl_) == 1; }

io_result tls_stream::outcome(int ret) {
  const int e = SSL_get_error(ssl_, ret);
  switch (e) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
      return {io_result::kind::would_block, 0};
    case SSL_ERROR_ZERO_RETURN:
      return {io_result::kind::eof, 0};
    case SSL_ERROR_SSL: {
      const int reason = ERR_GET_REASON(ERR_peek_error());
      if (reason == SSL_R_HTTP_REQUEST || reason == SSL_R_HTTPS_PROXY_REQUEST) answer_plain_http();
      break;
    }
    default:
      break;
  }
  // A fatal error (OpenSSL has sent its alert) or a socket error: the session is over, and the
  // error queue is emptied so the next connection does not read this one's reason.
  failed_ = true;
  ERR_clear_error();
  return {io_result::kind::error, 0};
}

// A plain HTTP request on the TLS port: a readable answer, then the request read away so that
// the close is a FIN, not a reset that destroys the answer.
void tls_stream::answer_plain_http() {
  const int fd = SSL_get_fd(ssl_);
  if (fd < 0) return;
  (void)::send(fd, plain_http_answer, sizeof plain_http_answer - 1, MSG_NOSIGNAL);
  ::shutdown(fd, SHUT_WR);
  char sink[1024];
  while (::recv(fd, sink, sizeof sink, 0) > 0) {
  }
}

// A TLS client's first byte is a handshake record's type (22); an HTTP request starts with a
// method's capital letter. OpenSSL itself recognises only GET, POST, HEAD, PUT and CONNECT, so
// DELETE or OPTIONS would get an alert that a plain client reads as a reset: peeked here, once
// per connection, before the handshake reads anything.
bool tls_stream::plain_http_first() {
  const int fd = SSL_get_fd(ssl_);
  char c = 0;
  const ssize_t n = fd < 0 ? -1 : ::recv(fd, &c, 1, MSG_PEEK);
  if (n < 0) return false;  // nothing yet (or an error the handshake's read will meet): look again
  first_byte_seen_ = true;
  return n == 1 && c >= 'A' && c <= 'Z';
}

io_result tls_stream::read(std::span<char> into) {
  if (!first_byte_seen_ && plain_http_first()) [[unlikely]] {
    answer_plain_http();
    failed_ = true;
    return {io_result::kind::error, 0};
  }
  if (sticky_ != io_result::kind::done) {
    const auto k = sticky_;
    sticky_ = io_result::kind::done;
    return {k, 0};
  }
  std::size_t got = 0;
  while (got < into.size()) {
    const int chunk = static_cast<int>(std::min<std::size_t>(into.size() - got, 1 << 30));
    last_raw_ = raw_read::none;
    const int r = SSL_read(ssl_, into.data() + got, chunk);
    if (r > 0) {
      got += static_cast<std::size_t>(r);
      // Nothing left in OpenSSL and this call's socket read came back short: the socket is
      // empty, so stop here rather than pay a read that finds nothing (EAGAIN). The caller
      // treats the short result as plain TCP's: wait for the next edge. Only a socket read made
      // by this very call counts; an older one says nothing about what arrived since.
      if (last_raw_ == raw_read::short_read && SSL_has_pending(ssl_) == 0) break;
      continue;
    }
    const io_result o = outcome(r);
    if (got == 0) return o;
    if (o.k != io_result::kind::would_block) sticky_ = o.k;  // the data first, then this
    break;
  }
  return io_result::moved(got);
}

io_result tls_stream::write_chunk(const char* data, std::size_t n) {
  const int r = SSL_write(ssl_, data, static_cast<int>(n));
  if (r > 0) {
    staged_ = 0;
    return io_result::moved(static_cast<std::size_t>(r));
  }
  staged_ = n;
  return outcome(r);
}

io_result tls_stream::write(std::span<const iovec> iov) {
  std::size_t sent = 0;
  std::size_t seg = 0;
  std::size_t off = 0;
  while (seg < iov.size()) {
    // A retry repeats exactly the bytes refused; otherwise up to a record.
    const std::size_t want = staged_ != 0 ? staged_ : record_bytes;
    std::size_t n = 0;
    while (n < want && seg < iov.size()) {
      const std::size_t take = std::min(want - n, iov[seg].iov_len - off);
      std::memcpy(scratch + n, static_cast<const char*>(iov[seg].iov_base) + off, take);
      n += take;
      off += take;
      if (off == iov[seg].iov_len) {
        ++seg;
        off = 0;
      }
    }
    if (n == 0) break;
    if (n < staged_) return {io_result::kind::error, 0};  // the queue changed under a retry
    const io_result r = write_chunk(scratch, n);
    if (r.k != io_result::kind::done) return sent > 0 ? io_result::moved(sent) : r;
    sent += r.n;
  }
  return io_result::moved(sent);
}

bool tls_stream::kernel_sends() const { return BIO_get_ktls_send(SSL_get_wbio(ssl_)) != 0; }

// Kernel TLS on the send side: the kernel frames and encrypts, so the file goes from the page
// cache to the socket with sendfile, as on a plain connection. Without it (no module, a cipher
// the kernel lacks, --tls-kernel off), the file is read into records in user space. A write
// refused half-way (staged_) is finished first with the same bytes, whichever path follows.
io_result tls_stream::send_file(const output_queue::file_range& range) {
  if (staged_ == 0 && kernel_sends()) {
    const std::size_t chunk = std::min<std::uint64_t>(range.length, max_kernel_sendfile);
    const ossl_ssize_t n = SSL_sendfile(ssl_, range.fd, static_cast<off_t>(range.offset), chunk, 0);
    if (n > 0) return io_result::moved(static_cast<std::size_t>(n));
    if (n == 0) return {io_result::kind::error, 0};  // the file is shorter than promised
    return outcome(static_cast<int>(n));
  }
  std::size_t sent = 0;
  while (sent < range.length) {
    const std::size_t want =
        staged_ != 0 ? staged_ : std::min(record_bytes, range.length - sent);
    const ssize_t n = ::pread(range.fd, scratch, want, static_cast<off_t>(range.offset + sent));
    if (n <= 0 || static_cast<std::size_t>(n) < staged_) {
      if (n < 0 && errno == EINTR) continue;
      return sent > 0 ? io_result::moved(sent) : io_result{io_result::kind::error, 0};
    }
    const io_result r = write_chunk(scratch, static_cast<std::size_t>(n));
    if (r.k != io_result::kind::done) return sent > 0 ? io_result::moved(sent) : r;
    sent += r.n;
  }
  return io_result::moved(sent);
}

void tls_stream::notify_close() {
  if (notified_ || failed_ || !established()) return;
  notified_ = true;
  // Non-blocking: sent if the socket takes it, else the close goes on without it.
  if (SSL_shutdown(ssl_) < 0) ERR_clear_error();
}

}  // namespace hive::detail

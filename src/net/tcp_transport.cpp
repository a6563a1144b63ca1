#include "net/tcp_transport.hpp"

#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace hive::detail {

namespace {
io_result from_errno() {
  if (errno == EAGAIN || errno == EINTR) return {io_result::kind::would_block, 0};
  return {io_result::kind::error, 0};
}
// sendfile moves at most this much per call (Linux's own limit).
constexpr std::size_t max_sendfile = 0x7ffff000;
}  // namespace

io_result tcp_transport::read(std::span<char> into) {
  const ssize_t n = ::recv(fd_, into.data(), into.size(), 0);
  if (n > 0) return io_result::moved(static_cast<std::size_t>(n));
  if (n == 0) return {io_result::kind::eof, 0};
  return from_errno();
}

io_result tcp_transport::write(std::span<const iovec> iov) {
  ssize_t n;
  if (iov.size() == 1) {
    n = ::send(fd_, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL);
  } else {
    msghdr msg{};
    msg.msg_iov = const_cast<iovec*>(iov.data());
    msg.msg_iovlen = iov.size();
    n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
  }
  if (n >= 0) return io_result::moved(static_cast<std::size_t>(n));
  return from_errno();
}

io_result tcp_transport::write_more(std::span<const iovec> iov) {
  msghdr msg{};
  msg.msg_iov = const_cast<iovec*>(iov.data());
  msg.msg_iovlen = iov.size();
  const ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL | MSG_MORE);
  if (n >= 0) return io_result::moved(static_cast<std::size_t>(n));
  return from_errno();
}

io_result tcp_transport::send_file(const output_queue::file_range& range) {
  off_t off = static_cast<off_t>(range.offset);
  const std::size_t chunk = range.length < max_sendfile ? range.length : max_sendfile;
  const ssize_t n = ::sendfile(fd_, range.fd, &off, chunk);
  if (n > 0) return io_result::moved(static_cast<std::size_t>(n));
  if (n == 0) return {io_result::kind::error, 0};  // the file is shorter than promised
  return from_errno();
}

void tcp_transport::shutdown_write() { ::shutdown(fd_, SHUT_WR); }

void tcp_transport::close() {
  if (fd_ < 0) return;
  ::close(fd_);
  fd_ = -1;
}

}  // namespace hive::detail

#include "net/tcp_transport.hpp"

#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

namespace hive::detail {

namespace {

io_result from_errno() {
  if (errno == EAGAIN || errno == EINTR) return {io_result::kind::would_block, 0};
  return {io_result::kind::error, 0};
}

// A MutableBufferSequence whose one buffer is asked for when Asio reads, not when the read is
// armed: the client decides at that moment where the bytes go (see connection::input_window).
class lazy_window {
 public:
  class iterator {
   public:
    using value_type = asio::mutable_buffer;
    using difference_type = std::ptrdiff_t;
    using reference = asio::mutable_buffer;
    using pointer = void;
    using iterator_category = std::forward_iterator_tag;
    iterator() = default;
    iterator(transport_client* c, bool end) : c_(c), end_(end) {}
    asio::mutable_buffer operator*() const {
      const auto w = c_->input_window();
      return {w.data(), w.size()};
    }
    iterator& operator++() {
      end_ = true;
      return *this;
    }
    iterator operator++(int) {
      iterator old = *this;
      end_ = true;
      return old;
    }
    bool operator==(const iterator& o) const { return end_ == o.end_; }

   private:
    transport_client* c_ = nullptr;
    bool end_ = true;
  };

  explicit lazy_window(transport_client* c) : c_(c) {}
  iterator begin() const { return {c_, false}; }
  iterator end() const { return {c_, true}; }

 private:
  transport_client* c_;
};

}  // namespace

tcp_transport::~tcp_transport() { close(); }

io_result tcp_transport::read(std::span<char> into) {
  const ssize_t n = ::recv(fd_, into.data(), into.size(), 0);
  if (n > 0) return io_result::moved(static_cast<std::size_t>(n));
  if (n == 0) return {io_result::kind::eof, 0};
  return from_errno();
}

io_result tcp_transport::write(std::span<const iovec> iov) {
  msghdr msg{};
  msg.msg_iov = const_cast<iovec*>(iov.data());
  msg.msg_iovlen = iov.size();
  // MSG_NOSIGNAL: a client that went away is an error value, not a SIGPIPE, even in a program
  // that embeds hive and did not ignore the signal.
  const ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
  if (n >= 0) return io_result::moved(static_cast<std::size_t>(n));
  return from_errno();
}

io_result tcp_transport::send_file(const output_queue::file_range& range) {
  off_t off = static_cast<off_t>(range.offset);
  const std::size_t chunk = range.length < 0x7ffff000u ? range.length : 0x7ffff000u;
  const ssize_t n = ::sendfile(fd_, range.fd, &off, chunk);
  if (n > 0) return io_result::moved(static_cast<std::size_t>(n));
  if (n == 0) return {io_result::kind::error, 0};  // the file is shorter than promised
  return from_errno();
}

void tcp_transport::shutdown_write() { ::shutdown(fd_, SHUT_WR); }

void tcp_transport::close() {
  if (fd_ < 0) return;
  if (joined_) {
    // Through Asio: it forgets the descriptor and finishes armed waits with operation_aborted.
    asio::error_code ec;
    socket_.close(ec);
  } else {
    ::close(fd_);
  }
  fd_ = -1;
}

bool tcp_transport::join_loop() {
  if (joined_) return true;
  if (fd_ < 0) return false;
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len);
  asio::error_code ec;
  socket_.assign(ss.ss_family == AF_INET6 ? asio::ip::tcp::v6() : asio::ip::tcp::v4(), fd_, ec);
  if (ec) return false;
  joined_ = true;
  return true;
}

void tcp_transport::arm_read(transport_client& c) {
  if (reading_ || !join_loop()) return;
  reading_ = true;
  struct handler {
    tcp_transport* t;
    transport_client* c;
    using allocator_type = slot_allocator<char>;
    allocator_type get_allocator() const noexcept { return allocator_type(&t->read_slot_); }
    void operator()(const asio::error_code& ec, std::size_t n) const {
      t->reading_ = false;
      c->on_read(ec, n);
    }
  };
  socket_.async_read_some(lazy_window(&c), handler{this, &c});
}

void tcp_transport::arm_write(transport_client& c) {
  if (writing_ || !join_loop()) return;
  writing_ = true;
  socket_.async_wait(asio::socket_base::wait_write, [this, &c](const asio::error_code& ec) {
    writing_ = false;
    c.on_writable(ec);
  });
}

}  // namespace hive::detail

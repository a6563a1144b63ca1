#include "cluster/ipc_channel.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "hive/worker.hpp"
#include "util/log.hpp"

namespace hive::detail {

namespace {
// A peer that stops reading (a hung worker) must not make us buffer without bound.
constexpr std::size_t max_queued_bytes = 4 * 1024 * 1024;
}  // namespace

void make_channel_pair(int fds[2]) {
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) {
    throw std::system_error(errno, std::system_category(), "hive: socketpair for a worker channel");
  }
  // Room for a few maximal messages in flight each way.
  int bytes = static_cast<int>(4 * worker::max_message_bytes);
  for (int i = 0; i < 2; ++i) {
    ::setsockopt(fds[i], SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
    ::setsockopt(fds[i], SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
  }
}

ipc_channel::ipc_channel(asio::io_context& io, int fd, std::string peer)
    : sd_(io), peer_(std::move(peer)), buf_(worker::max_message_bytes + 1) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  asio::error_code ec;
  sd_.assign(fd, ec);
  if (ec) ::close(fd);
}

ipc_channel::~ipc_channel() { close(); }

void ipc_channel::start(message_fn on_message, close_fn on_close) {
  on_message_ = std::move(on_message);
  on_close_ = std::move(on_close);
  wait_read();
}

void ipc_channel::close() {
  asio::error_code ec;
  sd_.close(ec);  // pending waits complete with operation_aborted
  queue_.clear();
  queued_bytes_ = 0;
}

void ipc_channel::wait_read() {
  if (!sd_.is_open()) return;
  sd_.async_wait(asio::posix::descriptor_base::wait_read,
                 [this, life = std::weak_ptr<int>(life_)](const asio::error_code& ec) {
                   if (life.expired() || ec == asio::error::operation_aborted) return;
                   if (ec) {
                     closed_by_peer();
                     return;
                   }
                   on_readable();
                 });
}

void ipc_channel::on_readable() {
  const std::weak_ptr<int> life = life_;
  for (;;) {
    if (!sd_.is_open()) return;
    const ssize_t n = ::recv(sd_.native_handle(), buf_.data(), buf_.size(), MSG_TRUNC);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      closed_by_peer();
      return;
    }
    if (n == 0) {  // we never send empty messages: this is the peer closing
      closed_by_peer();
      return;
    }
    if (static_cast<std::size_t>(n) > worker::max_message_bytes) {
      warn("dropped a ", n, "-byte message from ", peer_, " (the limit is ", worker::max_message_bytes,
           " bytes)");
      continue;
    }
    auto msg = nlohmann::json::parse(buf_.data(), buf_.data() + n, nullptr, false);
    if (msg.is_discarded() || !msg.is_object() || !msg.contains("t") || !msg["t"].is_string()) {
      warn("dropped a malformed message from ", peer_, " (not a JSON object with a \"t\" field)");
      continue;
    }
    if (on_message_) on_message_(std::move(msg));
    if (life.expired()) return;
  }
  wait_read();
}

void ipc_channel::closed_by_peer() {
  close();
  if (on_close_) {
    auto f = std::move(on_close_);
    on_close_ = nullptr;
    f();  // may destroy this
  }
}

bool ipc_channel::send(const nlohmann::json& msg, std::size_t headroom, bool log_drop) {
  if (!sd_.is_open()) return false;
  std::string bytes = msg.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (bytes.size() + headroom > worker::max_message_bytes) {
    warn("refused to send a ", bytes.size(), "-byte message to ", peer_, " (the limit is ",
         worker::max_message_bytes - headroom, " bytes)");
    return false;
  }
  if (queued_bytes_ + bytes.size() > max_queued_bytes) {
    if (log_drop) warn("dropped a message to ", peer_, ": it has not read the last ", queue_.size(), " messages");
    return false;
  }
  queued_bytes_ += bytes.size();
  queue_.push_back(std::move(bytes));
  if (!writing_) flush();
  return true;
}

void ipc_channel::flush() {
  while (!queue_.empty() && sd_.is_open()) {
    const std::string& m = queue_.front();
    const ssize_t n = ::send(sd_.native_handle(), m.data(), m.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) {
      queued_bytes_ -= m.size();
      queue_.pop_front();
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) {
      writing_ = true;
      sd_.async_wait(asio::posix::descriptor_base::wait_write,
                     [this, life = std::weak_ptr<int>(life_)](const asio::error_code& ec) {
                       if (life.expired() || ec == asio::error::operation_aborted) return;
                       writing_ = false;
                       if (!ec) flush();
                     });
      return;
    }
    // EPIPE, ECONNRESET: the peer is gone; the read side reports it.
    queue_.clear();
    queued_bytes_ = 0;
    return;
  }
}

}  // namespace hive::detail

#include "cluster/ipc_channel.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

#include "hive/worker.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"

namespace hive::detail {

void make_channel_pair(int fds[2]) {
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) {
    throw std::system_error(errno, std::system_category(), "hive: socketpair for a worker channel");
  }
  // Room for a few packets in flight each way.
  int bytes = static_cast<int>(4 * max_packet_bytes);
  for (int i = 0; i < 2; ++i) {
    ::setsockopt(fds[i], SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
    ::setsockopt(fds[i], SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
  }
}

ipc_channel::ipc_channel(asio::io_context& io, int fd, std::string peer)
    : sd_(io), peer_(std::move(peer)), buf_(max_packet_bytes + 1) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  asio::error_code ec;
  sd_.assign(fd, ec);
  if (ec) ::close(fd);
}

ipc_channel::~ipc_channel() { close(); }

template <class... Parts>
void ipc_channel::drop_line(const Parts&... parts) {
  if (auto held = drop_log_.allow(monotonic_ms())) warn(parts..., held->text());
}

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
  std::string().swap(partial_);
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
  for (;;) {
    if (!sd_.is_open()) return;
    const ssize_t n = ::recv(sd_.native_handle(), buf_.data(), buf_.size(), MSG_TRUNC);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      closed_by_peer();
      return;
    }
    if (n == 0) {  // we never send empty packets: this is the peer closing
      closed_by_peer();
      return;
    }
    if (!on_packet(static_cast<std::size_t>(n))) return;
  }
  wait_read();
}

bool ipc_channel::on_packet(std::size_t n) {
  if (n > max_packet_bytes) {
    drop_line("dropped a ", n, "-byte packet from ", peer_, " (packets are at most ", max_packet_bytes, " bytes)");
    return true;
  }
  const char kind = buf_[0];
  if (kind != piece_more && kind != piece_last) {
    if (!partial_.empty() || partial_dropped_) {
      drop_line("dropped a message from ", peer_, " cut short (its last piece never came)");
      std::string().swap(partial_);
      partial_dropped_ = false;
    }
    const std::weak_ptr<int> life = life_;
    deliver(buf_.data(), n);
    return !life.expired();
  }
  const bool last = kind == piece_last;
  if (!partial_dropped_ && partial_.size() + (n - 1) > worker::max_message_bytes) {
    drop_line("dropped a message from ", peer_, " over ", worker::max_message_bytes, " bytes (the limit)");
    std::string().swap(partial_);
    partial_dropped_ = true;
  }
  if (partial_dropped_) {
    if (last) partial_dropped_ = false;
    return true;
  }
  partial_.append(buf_.data() + 1, n - 1);
  if (!last) return true;
  std::string whole;
  whole.swap(partial_);  // the reassembly buffer's memory goes with the message
  const std::weak_ptr<int> life = life_;
  deliver(whole.data(), whole.size());
  return !life.expired();
}

void ipc_channel::deliver(const char* data, std::size_t n) {
  if (n > 0 && data[0] == event_marker) {
    if (!on_event_) {
      drop_line("dropped an event from ", peer_, " (this side takes none)");
      return;
    }
    on_event_(std::make_shared<const std::string>(data, n));
    return;
  }
  auto msg = nlohmann::json::parse(data, data + n, nullptr, false);
  if (msg.is_discarded() || !msg.is_object() || !msg.contains("t") || !msg["t"].is_string()) {
    drop_line("dropped a malformed message from ", peer_, " (not a JSON object with a \"t\" field)");
    return;
  }
  if (on_message_) on_message_(std::move(msg));
}

void ipc_channel::closed_by_peer() {
  close();
  if (on_close_) {
    auto f = std::move(on_close_);
    on_close_ = nullptr;
    f();  // may destroy this
  }
}

ipc_channel::bytes ipc_channel::serialize(const nlohmann::json& msg) {
  return std::make_shared<const std::string>(msg.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

ipc_channel::bytes ipc_channel::make_event(std::string_view topic, const nlohmann::json& msg) {
  if (topic.size() > 0xffff) return nullptr;
  std::string e;
  e += event_marker;
  e += static_cast<char>(topic.size() >> 8);
  e += static_cast<char>(topic.size() & 0xff);
  e += topic;
  e += msg.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return std::make_shared<const std::string>(std::move(e));
}

bool ipc_channel::read_event(const std::string& event, std::string_view& topic, std::string_view& json) {
  if (event.size() < 3 || event[0] != event_marker) return false;
  const std::size_t len = static_cast<unsigned char>(event[1]) << 8 | static_cast<unsigned char>(event[2]);
  if (event.size() < 3 + len) return false;
  topic = std::string_view(event).substr(3, len);
  json = std::string_view(event).substr(3 + len);
  return true;
}

bool ipc_channel::send(const nlohmann::json& msg, std::size_t headroom, bool log_drop) {
  if (!sd_.is_open()) return false;
  bytes b = serialize(msg);
  if (b->size() + headroom > worker::max_message_bytes) {
    drop_line("refused to send a ", b->size(), "-byte message to ", peer_, " (the limit is ",
              worker::max_message_bytes - headroom, " bytes)");
    return false;
  }
  return send_serialized(std::move(b), log_drop);
}

bool ipc_channel::send_control(const nlohmann::json& msg) {
  return send_serialized(serialize(msg), true, max_control_bytes);
}

bool ipc_channel::send_serialized(bytes msg, bool log_drop, std::size_t allowance) {
  if (!sd_.is_open() || msg->empty()) return false;
  if (msg->size() > worker::max_message_bytes) {
    drop_line("refused to send a ", msg->size(), "-byte message to ", peer_, " (the limit is ",
              worker::max_message_bytes, " bytes)");
    return false;
  }
  if (queued_bytes_ + msg->size() > max_queued_bytes + allowance) {
    if (log_drop) drop_line("dropped a message to ", peer_, ": it has not read the last ", queue_.size(), " messages");
    return false;
  }
  queued_bytes_ += msg->size();
  queue_.push_back(outgoing{std::move(msg), 0});
  if (!writing_) flush();
  return true;
}

// A message up to max_packet_bytes goes as one packet; a larger one as pieces, each a marker
// byte and up to max_packet_bytes - 1 of its bytes, written with one sendmsg (no copy).
bool ipc_channel::write_packet(outgoing& o) {
  const std::string& m = *o.msg;
  const bool whole = m.size() <= max_packet_bytes;
  const std::size_t len = whole ? m.size() : std::min(max_packet_bytes - 1, m.size() - o.sent);
  char marker = o.sent + len == m.size() ? piece_last : piece_more;
  iovec iov[2];
  int parts = 0;
  if (!whole) iov[parts++] = {&marker, 1};
  iov[parts++] = {const_cast<char*>(m.data() + o.sent), len};
  msghdr mh{};
  mh.msg_iov = iov;
  mh.msg_iovlen = static_cast<std::size_t>(parts);
  for (;;) {
    const ssize_t n = ::sendmsg(sd_.native_handle(), &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) break;
    if (errno == EINTR) continue;
    if (errno != EAGAIN) {  // EPIPE, ECONNRESET: the peer is gone; the read side reports it
      queue_.clear();
      queued_bytes_ = 0;
    }
    return false;
  }
  o.sent += len;
  queued_bytes_ -= len;
  return true;
}

void ipc_channel::flush() {
  while (!queue_.empty() && sd_.is_open()) {
    outgoing& o = queue_.front();
    if (!write_packet(o)) {
      if (queue_.empty()) return;  // the peer is gone
      writing_ = true;
      sd_.async_wait(asio::posix::descriptor_base::wait_write,
                     [this, life = std::weak_ptr<int>(life_)](const asio::error_code& ec) {
                       if (life.expired() || ec == asio::error::operation_aborted) return;
                       writing_ = false;
                       if (!ec) flush();
                     });
      return;
    }
    if (o.sent == o.msg->size()) queue_.pop_front();
  }
}

}  // namespace hive::detail

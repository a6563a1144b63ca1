// One end of a worker's message channel: a SOCK_SEQPACKET socketpair, so every send is one whole
// message and no framing is needed. Messages are JSON objects {"t": kind, …}. What arrives broken
// (not JSON, not an object, larger than worker::max_message_bytes) is logged and dropped: a
// misbehaving peer must never crash the other side.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <nlohmann/json.hpp>

namespace hive::detail {

class ipc_channel {
 public:
  using message_fn = std::function<void(nlohmann::json&& msg)>;
  using close_fn = std::function<void()>;

  // Takes ownership of `fd`; `peer` names the other side in log lines ("worker 1234").
  ipc_channel(asio::io_context& io, int fd, std::string peer);
  ~ipc_channel();
  ipc_channel(const ipc_channel&) = delete;
  ipc_channel& operator=(const ipc_channel&) = delete;

  // Starts reading. Either callback may destroy the channel.
  void start(message_fn on_message, close_fn on_close);
  // Queues when the peer is slow to read. False if closed, too large, or the queue is full.
  // `headroom`: bytes the message must leave under the limit (a relay, forwarded in a slightly
  // larger envelope, must still fit). `log_drop` false: the caller counts and logs drops itself.
  bool send(const nlohmann::json& msg, std::size_t headroom = 0, bool log_drop = true);
  void close();
  bool is_open() const { return sd_.is_open(); }

 private:
  void wait_read();
  void on_readable();
  void flush();
  void closed_by_peer();

  asio::posix::stream_descriptor sd_;
  std::string peer_;
  std::vector<char> buf_;
  std::deque<std::string> queue_;
  std::size_t queued_bytes_ = 0;
  bool writing_ = false;
  message_fn on_message_;
  close_fn on_close_;
  std::shared_ptr<int> life_ = std::make_shared<int>(0);  // expires when the channel is destroyed
};

// A SOCK_SEQPACKET socketpair with close-on-exec; throws std::system_error.
void make_channel_pair(int fds[2]);

}  // namespace hive::detail

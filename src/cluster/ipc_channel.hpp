// One end of a worker's message channel: a SOCK_SEQPACKET socketpair, so every packet arrives
// whole and in order. Messages are JSON objects {"t": kind, …}, or pub/sub events: a byte
// event_marker, the topic's length (2 bytes, big-endian), the topic, then the message's JSON
// text — so the primary routes an event by its topic and passes the same bytes on to every
// subscriber without parsing or serializing the message (JSON is most of a publish's cost). One that serializes to at most
// max_packet_bytes travels as one packet, its JSON text as is; a larger one, up to
// worker::max_message_bytes, travels as pieces — packets that start with a byte piece_more or
// piece_last (neither can start JSON text) — and is reassembled before it is parsed. What arrives
// broken (not JSON, not an object, over the limit, pieces cut short) is dropped with a log line,
// at most one a second: a misbehaving peer must never crash the other side nor flood the log.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <nlohmann/json.hpp>

#include "cluster/log_limit.hpp"
#include "hive/worker.hpp"

namespace hive::detail {

// The largest packet on the wire; the socket buffers hold a few.
inline constexpr std::size_t max_packet_bytes = 64 * 1024;
inline constexpr char piece_more = '\x01';
inline constexpr char piece_last = '\x02';
inline constexpr char event_marker = '\x03';
// A reader that falls behind gets at most this much queued for it — two messages of the largest
// size, so a burst of big ones fits behind one being written: past it, sends fail and the caller
// counts a drop. (Fan-out shares one copy of a message among every channel it is queued on.)
inline constexpr std::size_t max_queued_bytes = 2 * hive::worker::max_message_bytes;
// What control messages (send_control) may queue beyond max_queued_bytes.
inline constexpr std::size_t max_control_bytes = 1024 * 1024;

class ipc_channel {
 public:
  using message_fn = std::function<void(nlohmann::json&& msg)>;
  using close_fn = std::function<void()>;
  using bytes = std::shared_ptr<const std::string>;
  using event_fn = std::function<void(const bytes& event)>;

  // Takes ownership of `fd`; `peer` names the other side in log lines ("worker 1234").
  ipc_channel(asio::io_context& io, int fd, std::string peer);
  ~ipc_channel();
  ipc_channel(const ipc_channel&) = delete;
  ipc_channel& operator=(const ipc_channel&) = delete;

  // Starts reading. Either callback may destroy the channel.
  void start(message_fn on_message, close_fn on_close);
  // Events (see above) go here; without it they are dropped. Set before start.
  void on_event(event_fn f) { on_event_ = std::move(f); }
  // Queues when the peer is slow to read. False if closed, too large, or the queue is full.
  // `headroom`: bytes the message must leave under the limit (a relay, forwarded in a slightly
  // larger envelope, must still fit). `log_drop` false: the caller counts and logs drops itself.
  bool send(const nlohmann::json& msg, std::size_t headroom = 0, bool log_drop = true);
  // The same with a message already serialized (one copy shared by every channel it goes to).
  // `allowance`: bytes it may queue beyond max_queued_bytes (send_control's).
  bool send_serialized(bytes msg, bool log_drop = true, std::size_t allowance = 0);
  // A small message the peer's state depends on (a subscription): queued even past a full queue,
  // within a further `max_control_bytes`, since dropping it would leave a topic unheard for good.
  bool send_control(const nlohmann::json& msg);
  void close();
  bool is_open() const { return sd_.is_open(); }
  // Serialized as the channel sends it.
  static bytes serialize(const nlohmann::json& msg);
  // An event's bytes; null if the topic is longer than 65,535 bytes.
  static bytes make_event(std::string_view topic, const nlohmann::json& msg);
  // Its parts (views into `event`); false if it is malformed.
  static bool read_event(const std::string& event, std::string_view& topic, std::string_view& json);

 private:
  struct outgoing {
    bytes msg;
    std::size_t sent = 0;  // bytes of it already written
  };
  void wait_read();
  void on_readable();
  // One packet read: a whole message, or a piece of one. False if the channel went away.
  bool on_packet(std::size_t n);
  void deliver(const char* data, std::size_t n);
  void flush();
  // False: the socket is full (EAGAIN) or gone.
  bool write_packet(outgoing& o);
  void closed_by_peer();
  template <class... Parts>
  void drop_line(const Parts&... parts);

  asio::posix::stream_descriptor sd_;
  std::string peer_;
  std::vector<char> buf_;    // one packet
  std::string partial_;      // the pieces of a large message so far
  bool partial_dropped_ = false;  // its pieces went over the limit: drop the rest of them
  std::deque<outgoing> queue_;
  std::size_t queued_bytes_ = 0;  // not yet written
  bool writing_ = false;
  message_fn on_message_;
  close_fn on_close_;
  event_fn on_event_;
  log_limit drop_log_;
  std::shared_ptr<int> life_ = std::make_shared<int>(0);  // expires when the channel is destroyed
};

// A SOCK_SEQPACKET socketpair with close-on-exec; throws std::system_error.
void make_channel_pair(int fds[2]);

}  // namespace hive::detail

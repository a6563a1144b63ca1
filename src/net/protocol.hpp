// What a connection runs above its transport: a sans-I/O protocol that takes bytes read, gives
// bytes to write, and says what the connection should do next. HTTP/1.1 (http/session) is the
// first; after `101 Switching Protocols` the session hands the connection, with the bytes
// already read past the request, to its successor (WebSocket), which implements the same calls.
// The connection owns the socket, the readiness and the deadlines; the protocol owns meaning.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "net/output_queue.hpp"
#include "net/worker_budget.hpp"

namespace hive::detail {

class protocol {
 public:
  // What to do once nothing is left to write.
  enum class next : std::uint8_t {
    read,     // read more; read_timer() says which deadline applies
    hold,     // the application holds the answer: read only to see the client leave
    wait,     // neither read nor close: the protocol wakes the connection (see set_wake)
    close,    // close now
    linger,   // half-close, read and discard until EOF, then close (RFC 9112 §9.6)
    hand_off, // successor() takes the connection
  };
  // Which deadline a read waits under.
  // custom: the protocol's own, custom_timeout() long (WebSocket's idle, pong and close waits).
  enum class timer : std::uint8_t { none, idle, head, body, custom };

  virtual ~protocol() = default;

  // Where to read into (never empty), and how much was read there.
  virtual std::span<char> prepare() = 0;
  virtual void commit(std::size_t n) = 0;
  // The client closed its sending side (a read returned 0).
  virtual void on_eof() = 0;
  // The connection is closed (reset, a failed write, the server stopping): nothing more will
  // be read or written. Anything the application still holds learns it here.
  virtual void peer_gone() = 0;

  // What to send (null: nothing), and how much of it was sent.
  virtual output_queue* output() = 0;
  virtual void consume(std::size_t n) = 0;

  virtual next step() const = 0;
  virtual timer read_timer() const = 0;
  // Changes whenever a new deadline should start (a new message, a new phase of one).
  virtual std::uint64_t progress() const = 0;
  // With read_timer() == custom: how long.
  virtual std::chrono::milliseconds custom_timeout() const { return {}; }
  // The deadline read_timer() named passed.
  virtual void timeout() = 0;
  // Graceful shutdown: finish what is in progress, then close.
  virtual void drain() = 0;
  // A read found nothing: memory held only for the next bytes may go back to its pool.
  virtual void release_if_idle() = 0;

  // What it holds that the client decides the size of, for the worker's memory budgets.
  virtual held_bytes held() const = 0;

  // With step() == hand_off: the protocol that takes over, already fed the bytes read past the
  // last message. The old one is done.
  virtual std::unique_ptr<protocol> successor() { return nullptr; }

  // Work finished outside a call from the connection (a deferred answer, a streamed part):
  // the connection should come back from its own loop.
  void set_wake(void (*fn)(void*), void* ctx) {
    wake_ = fn;
    wake_ctx_ = ctx;
  }

 protected:
  void wake() const {
    if (wake_ != nullptr) wake_(wake_ctx_);
  }

 private:
  void (*wake_)(void*) = nullptr;
  void* wake_ctx_ = nullptr;
};

}  // namespace hive::detail

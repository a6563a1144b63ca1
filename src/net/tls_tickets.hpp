// Session-ticket keys that every worker shares and the primary rotates.
//
// A ticket is encrypted under the current key and names it; a client that reconnects is sent
// by the kernel's reuseport hash to any worker, so every worker must hold the same keys. They
// live in a small shared mapping the primary makes before forking; the primary alone writes it
// (rotate: the current key becomes the previous one, a fresh key becomes current), workers read
// it at each handshake under a sequence lock. A ticket under the previous key still resumes and
// is replaced by one under the current key; older ones get a full handshake. Keys never touch
// disk. Without a cluster (--workers 0) the server makes and rotates its own.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

using SSL_CTX = struct ssl_ctx_st;

namespace hive::detail {

class ticket_keys {
 public:
  static constexpr std::size_t name_bytes = 16, hmac_bytes = 32, aes_bytes = 32;
  struct key {
    unsigned char name[name_bytes];
    unsigned char hmac[hmac_bytes];
    unsigned char aes[aes_bytes];
  };
  struct both {
    key current;
    key previous;
    bool has_previous;
  };

  // A shared anonymous mapping holding a fresh current key, or null (no memory, no randomness).
  static ticket_keys* create();
  static void destroy(ticket_keys* keys);

  // The writer (one process): false, with the keys unchanged, when the random source fails.
  bool rotate();
  // Any process: a consistent copy, never half of one rotation and half of the next.
  both read() const;

 private:
  static constexpr std::size_t words = sizeof(key) / 8;
  static_assert(sizeof(key) % 8 == 0);
  // Words, not bytes, and atomics, not plain memory: readers race the writer by design, and the
  // sequence number tells them when to try again.
  std::atomic<std::uint64_t> seq_{0};  // odd while a rotation is being written
  std::atomic<std::uint64_t> current_[words];
  std::atomic<std::uint64_t> previous_[words];
  std::atomic<bool> has_previous_{false};
};

// Encrypts new tickets under `keys`'s current key and opens tickets under either key. Tickets
// are issued with a lifetime of `lifetime` (two rotation periods: a ticket is never older than
// the keys that can open it).
bool use_ticket_keys(SSL_CTX* ctx, const ticket_keys* keys, std::chrono::seconds lifetime);

}  // namespace hive::detail

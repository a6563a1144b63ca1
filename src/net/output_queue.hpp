// What a connection has to send, in order: a queue of segments. Bytes a protocol serializes (heads,
// small bodies) go into one arena and form one segment however many responses they hold, so a
// pipelined batch leaves in one write; memory that outlives the send is referenced, not copied;
// file ranges are sent with sendfile. The queue's byte size is the connection's backpressure.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hive::detail {

class output_queue {
 public:
  // A file range: sent from `fd` at `offset` (append_file's `keep` holds what keeps fd open).
  struct file_range {
    int fd = -1;
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
  };

  // Appends bytes to copy: where serializers write (see append_space).
  void append(std::string_view bytes);
  // `n` writable bytes at the end of the arena, counted as queued: fill them all.
  char* append_space(std::size_t n);
  // Memory the caller keeps valid (and unchanged) until it is sent; `keep` may own it.
  void append_view(std::string_view bytes, std::shared_ptr<const void> keep = {});
  void append_file(file_range range, std::shared_ptr<const void> keep = {});

  bool empty() const { return queued_ == 0; }
  std::size_t bytes() const { return queued_; }
  // The memory it keeps even when empty: the arena's capacity and the segment list's (a queue
  // that once held a million small views keeps room for a million segments).
  std::size_t capacity_bytes() const { return arena_cap_ + segs_.capacity() * sizeof(segment); }
  // Bytes copied into the arena and not yet all sent (0 once the queue empties): what this
  // connection's output holds, as opposed to spare capacity kept from earlier responses.
  std::size_t arena_used() const { return arena_len_; }

  // The next write: either up to `max` memory segments as iovecs (returns their count), or, when
  // the front is a file range, 0 and `file` filled. A file range right behind the iovecs fills
  // `file` too: the head before a file body can go out with it (MSG_MORE).
  int next(iovec* iov, int max, file_range& file) const;
  // `n` bytes were written from the front.
  void consume(std::size_t n);
  // Drops everything queued (the connection is closing).
  void clear();
  // Frees a grown arena (the connection goes idle after a large response).
  void shrink();
  // Frees all its memory when empty (a connection that idles without a pool behind it).
  void release();

 private:
  enum class kind : std::uint8_t { arena, view, file };
  struct segment {
    kind k = kind::arena;
    std::uint64_t off = 0;  // arena offset, or file offset
    std::uint64_t len = 0;
    const char* ptr = nullptr;  // view
    int fd = -1;                // file
    std::shared_ptr<const void> keep;
  };

  // Arena offsets, not pointers: the arena may grow while segments refer to it. Not a
  // std::string: growing one zero-fills bytes that are about to be overwritten.
  std::unique_ptr<char[]> arena_;
  std::size_t arena_cap_ = 0;
  std::size_t arena_len_ = 0;
  std::vector<segment> segs_;
  std::size_t front_ = 0;  // first unsent segment
  std::size_t queued_ = 0;
};

}  // namespace hive::detail

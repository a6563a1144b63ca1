#include "http/buffers.hpp"

namespace hive::detail {

namespace {
// A buffer that grew past this for one large request is trimmed before reuse, so one big upload
// does not pin its memory in the pool for the life of the worker.
constexpr std::size_t trim_bytes = 256 * 1024;

void trim_string(std::string& s) {
  if (s.capacity() > trim_bytes) std::string().swap(s);
  s.clear();
}
}  // namespace

std::unique_ptr<conn_buffers> buffer_pool::take() {
  if (!free_.empty()) {
    auto b = std::move(free_.back());
    free_.pop_back();
    return b;
  }
  return std::make_unique<conn_buffers>();
}

void buffer_pool::give(std::unique_ptr<conn_buffers> b) {
  if (free_.size() >= keep_) return;
  b->out.clear();
  b->out.shrink();
  trim_string(b->body);
  if (b->scratch.cap > trim_bytes) b->scratch = {};
  b->res.reset();
  b->deferred.reset();
  b->clear_request();
  free_.push_back(std::move(b));
}

}  // namespace hive::detail

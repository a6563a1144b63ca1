#include "http/buffers.hpp"

namespace hive::detail {

namespace {
// A buffer that grew past this for one large request is trimmed before reuse, so one big upload
// does not pin its memory in the pool for the life of the worker.
constexpr std::size_t trim_bytes = 256 * 1024;

void trim(std::string& s) {
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
  auto b = std::make_unique<conn_buffers>();
  b->in.reset(new char[input_bytes_]);
  b->in_cap = input_bytes_;
  return b;
}

void buffer_pool::give(std::unique_ptr<conn_buffers> b) {
  if (free_.size() >= keep_) return;
  b->in_len = 0;
  if (b->in_cap > input_bytes_) {
    b->in.reset(new char[input_bytes_]);
    b->in_cap = input_bytes_;
  }
  trim(b->out);
  trim(b->body);
  trim(b->res_body);
  b->deferred.reset();
  b->res_headers.clear();
  b->res_type.clear();
  b->clear_request();
  free_.push_back(std::move(b));
}

}  // namespace hive::detail

// Reads a sans-I/O session's queued output as text, as a socket would take it: at most `max`
// bytes at a time. (Sessions under test queue memory only, never file ranges.)
#pragma once

#include <cstddef>
#include <limits>
#include <string>

#include "http/session.hpp"

namespace hive::test {

inline std::size_t take_output(detail::session& s, std::string& out,
                               std::size_t max = std::numeric_limits<std::size_t>::max()) {
  detail::output_queue* q = s.output();
  if (q == nullptr) return 0;
  iovec iov[16];
  detail::output_queue::file_range file;
  const int n = q->next(iov, 16, file);
  std::size_t took = 0;
  for (int i = 0; i < n && took < max; ++i) {
    const std::size_t k = std::min(iov[i].iov_len, max - took);
    out.append(static_cast<const char*>(iov[i].iov_base), k);
    took += k;
  }
  s.consume(took);
  return took;
}

// Everything is written and the connection should close (with or without lingering).
inline bool done(const detail::session& s) {
  const auto next = s.step();
  return !s.has_output() && (next == detail::protocol::next::close || next == detail::protocol::next::linger);
}
inline bool wants_read(const detail::session& s) { return s.step() == detail::protocol::next::read; }

}  // namespace hive::test

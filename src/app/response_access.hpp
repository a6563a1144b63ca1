// What hive's own filters may do to a response beyond its public interface: edit the fields it
// holds, swap a coded body in, and hang a coder on a streamed body.
#pragma once

#include <memory>
#include <string>

#include "hive/response.hpp"

namespace hive::detail {

struct response_access {
  // The "name: value\r\n" lines, writable: a filter that rewrites one keeps the format.
  static std::string& fields(response& r) { return r.fields_; }
  // A bytes or ref body becomes `coded` (swapped: `coded` is left holding the old bytes' buffer,
  // for reuse); the Content-Type stays.
  static void swap_body(response& r, std::string& coded) {
    if (r.kind_ == response::body_kind::ref) {
      r.kind_ = response::body_kind::bytes;
      r.ref_ = {};
      r.owner_.reset();
    }
    r.bytes_.swap(coded);
  }
  // The coder a streamed body's parts go through; response::stream() moves it to the stream.
  static void set_coder(response& r, std::shared_ptr<body_coder> c) { r.coder_ = std::move(c); }
  static std::shared_ptr<body_coder> take_coder(response& r) { return std::move(r.coder_); }
};

}  // namespace hive::detail

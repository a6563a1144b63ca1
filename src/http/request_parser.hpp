// llhttp glue: turns bytes into request heads (as spans of the input buffer), body bytes and
// message ends, and enforces the limits and the framing rules of RFC 9112 while it parses.
// It stops (pauses) at the end of every message, so the session handles each request outside
// llhttp's callbacks and decides whether parsing goes on.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include <llhttp.h>

#include "http/error.hpp"
#include "net/input_buffer.hpp"

namespace hive::detail {

struct conn_buffers;

// An offset range into the input buffer: offsets survive compaction and reallocation, pointers
// would not.
struct span {
  std::uint32_t off = 0;
  std::uint32_t len = 0;
  std::uint32_t end() const { return off + len; }
};

struct raw_header {
  span name, value;
};


struct parser_limits {
  std::size_t max_request_line_bytes = 8 * 1024;
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_header_count = 100;
  std::size_t max_body_bytes = 1024 * 1024;
  // Some route has a max_body of its own (route_options::max_body): a declared Content-Length is
  // checked against the largest of them when the head ends, and against the route's own limit
  // once the session has routed the head (set_body_limit). 0: no route has one.
  std::size_t max_route_body_bytes = 0;
};

class request_parser {
 public:
  // Where the message is, as the session sees it: which timeout applies, what compaction keeps.
  enum class state { idle, head, body };
  enum class result {
    need_more,   // every byte consumed, the message (if any) is incomplete
    head_done,   // the head of a message is complete: decide on 100-continue, routing
    message_done,// a whole message is parsed; `parsed()` is where the next one starts
    body_paused, // the body's consumer paused (dispatcher::body_data said so): resume later
    error,       // framing error: `error()` says which; nothing after it may be parsed
  };

  request_parser();
  request_parser(const request_parser&) = delete;
  request_parser& operator=(const request_parser&) = delete;
  // Ready for a connection's next message, under `limits` (which must outlive the parser's use).
  void reset(const parser_limits& limits);

  // Parses in[from, in.len) and stops at the first event. Spans refer to `in`; header fields
  // and body bytes are collected in `b`.
  result execute(input_buffer& in, conn_buffers& b, std::size_t from);
  // Where the parser stopped: resume `execute` from here.
  std::size_t parsed() const { return parsed_; }

  state phase() const { return state_; }
  // Messages begun so far: tells the connection a new header timeout starts.
  std::uint64_t messages_begun() const { return messages_begun_; }
  error failure() const { return error_; }

  // The current message's head (valid from head_done until the next message begins).
  std::string_view method() const { return method_; }
  span target() const { return url_; }
  int major() const { return parser_.http_major; }
  int minor() const { return parser_.http_minor; }
  bool keep_alive() const { return keep_alive_; }
  bool expects_continue() const { return expect_continue_; }
  bool has_body() const { return has_body_; }
  std::uint64_t content_length() const { return content_length_; }  // when !chunked
  std::uint64_t body_seen() const { return body_seen_; }
  bool chunked() const { return chunked_; }
  // The current message's body limit from now on (its route's), in place of max_body_bytes.
  void set_body_limit(std::size_t bytes) { body_limit_ = bytes; }
  bool upgrade_or_connect() const { return parser_.upgrade != 0; }
  // First byte of the current message and the end of its head spans: compaction keeps these.
  std::size_t message_start() const { return msg_start_; }
  std::size_t head_end() const { return head_end_; }
  // Compaction moved the head's bytes down by `head_shift` and left the unparsed rest at
  // `new_parsed`: shift every stored offset.
  void rebase(std::size_t head_shift, std::size_t new_parsed);

 private:
  static int on_message_begin(llhttp_t*);
  static int on_url(llhttp_t*, const char*, std::size_t);
  static int on_version(llhttp_t*, const char*, std::size_t);
  static int on_header_field(llhttp_t*, const char*, std::size_t);
  static int on_header_field_complete(llhttp_t*);
  static int on_header_value(llhttp_t*, const char*, std::size_t);
  static int on_header_value_complete(llhttp_t*);
  static int on_headers_complete(llhttp_t*);
  static int on_body(llhttp_t*, const char*, std::size_t);
  static int on_chunk_header(llhttp_t*);
  static int on_chunk_extension_name(llhttp_t*, const char*, std::size_t);
  static int on_chunk_extension_name_complete(llhttp_t*);
  static int on_chunk_extension_value(llhttp_t*, const char*, std::size_t);
  static int on_chunk_extension_value_complete(llhttp_t*);
  static int on_message_complete(llhttp_t*);
  static const llhttp_settings_t settings_;

  int fail(error e);
  bool single_space_before(const char* at) const;
  int check_head_bytes(std::size_t end_off);
  bool trickle_limits_ok();
  int trailer_value_piece(const char* at, std::size_t len, std::size_t end);
  int validate_head();
  bool target_ok(std::string_view target) const;
  bool head_lines_ok() const;
  bool llhttp_keeps_alive() const;
  bool request_line_has_version() const;
  bool folded(const char* value) const;
  int count_chunk_meta(std::size_t len);
  bool chunked_body_ends_in_crlf(std::size_t from) const;
  bool take_later_minor_as_11();
  error error_from_llhttp(llhttp_errno_t e) const;
  void append(span& s, const char* at, std::size_t len);

  // Where the parser is, finer than `state`: what llhttp's next callback continues, and why it
  // last paused. Each callback checks and moves it.
  enum class part : std::uint8_t {
    idle,                 // between messages: none began yet, or the last ended (and paused there)
    request_line,         // the method and the target
    version,              // the request line's version: its first piece was checked
    fields,               // the head's field lines, between two of them
    field_name,           // a field's name (until its value begins): a further piece continues it
    field_value,          // a field's value
    body,                 // the head is done (and paused there if a body follows): body bytes,
                          // chunk lines, trailer names
    trailer_value,        // a trailer's value whose last piece ended inside the read: another
                          // piece of it is an obs-fold
    trailer_value_split,  // a trailer's value whose last piece ended with the read: the next
                          // piece continues it
    failed,               // a framing error: `error_` says which; nothing more is parsed
  };

  llhttp_t parser_{};
  const parser_limits* limits_ = nullptr;
  input_buffer* in_ = nullptr;
  conn_buffers* b_ = nullptr;
  state state_ = state::idle;
  part part_ = part::idle;  // within state_; state_ stays where a failure happened
  error error_ = error::bad_request_line;
  std::size_t parsed_ = 0;
  std::size_t exec_from_ = 0;  // where the running execute() began
  std::size_t msg_start_ = 0;
  std::size_t head_end_ = 0;
  span url_{};
  bool keep_alive_ = true;
  bool expect_continue_ = false;
  bool has_body_ = false;
  bool chunked_ = false;
  std::uint64_t content_length_ = 0;
  std::uint64_t body_seen_ = 0;
  std::size_t body_limit_ = 0;  // this message's: max_body_bytes, or its route's
  std::size_t field_bytes_ = 0;      // the current field name's length so far
  std::size_t ext_part_bytes_ = 0;   // the current chunk extension name's or value's length
  std::size_t chunk_meta_bytes_ = 0; // chunk extension and trailer bytes in this message
  bool body_paused_ = false;         // on_body paused llhttp for the body's consumer
  char last_byte_ = 0;               // the last byte an earlier execute() consumed
  std::uint64_t messages_begun_ = 0;
  std::string_view method_;
};

}  // namespace hive::detail

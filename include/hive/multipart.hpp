// hive::multipart_parser — a multipart/form-data body (RFC 7578, boundaries as RFC 2046 §5.1.1
// says) parsed as it arrives, in pieces of any size, holding at most one part's header section
// and a boundary's length of bytes. Most handlers want hive::multipart_form (multipart_form.hpp),
// which feeds this parser from a streamed request body and answers its errors; use the parser
// itself to read a multipart body from anywhere else:
//
//   auto boundary = hive::multipart_parser::boundary(content_type);   // nullopt: not a form
//   hive::multipart_parser p(*boundary, {
//       .on_part = [](const hive::multipart_part& part) { /* part.name, part.filename */ },
//       .on_data = [](std::string_view bytes) { /* the current part's data, in order */ },
//       .on_part_end = [] {}});
//   p.feed(piece);  p.feed(next_piece);  ...            // false once the body is refused
//   if (!p.finish()) std::puts(hive::describe(p.error()));
//
// The preamble before the first boundary and the epilogue after `--boundary--` are ignored.
// Strict where the RFCs leave room: a boundary line must be `--boundary`, optional spaces or
// tabs, CRLF; part headers end lines with CRLF (no bare LF, no folding); every part has
// `Content-Disposition: form-data; name=…`, once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hive {

// What one body may make the parser hold or do. A worker reading many forms at once holds at most
// max_part_header_bytes (plus a boundary) for each.
struct multipart_limits {
  std::size_t max_parts = 128;                 // parts in one body
  std::size_t max_part_header_bytes = 8 * 1024;  // one part's header fields (each line with its CRLF)
  // Every byte of the body, boundaries, preamble and epilogue included. A route's max_body bounds
  // a request body as well.
  std::uint64_t max_total_bytes = std::numeric_limits<std::uint64_t>::max();
};

enum class multipart_error : std::uint8_t {
  none,
  malformed,          // a boundary line or a part's header section breaks the syntax
  no_disposition,     // a part without exactly one `Content-Disposition: form-data; name=…`
  too_many_parts,     // past max_parts
  header_too_large,   // a part's header section past max_part_header_bytes
  too_large,          // the body past max_total_bytes
  unfinished,         // the body ended before the close delimiter `--boundary--`
};

// One sentence for logs and error answers ("multipart: the body ended before its last boundary").
const char* describe(multipart_error e);

// A part's head, as on_part sees it.
struct multipart_part {
  std::string name;                     // Content-Disposition's name (may be empty)
  // The file name the client gave (filename, or filename*=UTF-8''… which wins when both are
  // sent); nullopt for a plain field. Never trust it as a path.
  std::optional<std::string> filename;
  std::string content_type = "text/plain";  // the part's Content-Type; text/plain when it has none (RFC 7578 §4.4)
  // Every header field of the part in order, names lower-cased, values without surrounding spaces.
  std::vector<std::pair<std::string, std::string>> headers;
};

class multipart_parser {
 public:
  struct handlers {
    std::function<void(const multipart_part&)> on_part;  // a part's header section is complete
    std::function<void(std::string_view)> on_data;       // the current part's data, in order
    std::function<void()> on_part_end;                   // the current part's data is complete
  };

  // The boundary parameter of a `multipart/form-data` Content-Type, checked (1–70 characters of
  // RFC 2046's bchars, not ending in a space); nullopt for any other type or a bad boundary.
  static std::optional<std::string> boundary(std::string_view content_type);

  // `boundary` as boundary() returns it.
  multipart_parser(std::string_view boundary, handlers h, multipart_limits limits = {});

  // Parses the next piece of the body, calling the handlers. False once the body is refused
  // (error() says why); later pieces are then ignored. A piece that crosses max_total_bytes is
  // parsed up to the limit (the handlers see those bytes) and then refused as too_large, so a body
  // fails the same way however it is cut.
  bool feed(std::string_view bytes);
  // The body ended: true when the close delimiter was seen (and nothing was refused).
  bool finish();

  multipart_error error() const { return error_; }
  // The close delimiter was seen: the rest is epilogue.
  bool done() const { return state_ == state::epilogue; }
  std::size_t parts() const { return parts_; }

 private:
  enum class state : std::uint8_t {
    preamble,       // before the first boundary
    after_boundary, // `--boundary` read: `--`, padding or CRLF next
    padding,        // spaces or tabs after the boundary
    boundary_lf,    // the CR ending a boundary line read
    close_dash,     // one `-` after the boundary read
    headers,        // a part's header section
    data,           // a part's data
    epilogue,       // after the close delimiter
    failed,
  };

  void parse(std::string_view in);
  std::size_t scan(std::string_view in);
  void found_delimiter();
  void resolve_held(std::string_view& in);
  std::size_t boundary_line(std::string_view in);
  std::size_t header_bytes(std::string_view in);
  bool start_part();
  void fail(multipart_error e);

  handlers h_;
  multipart_limits limits_;
  std::string delimiter_;  // CRLF "--" boundary
  std::string held_;       // the start of a possible delimiter at the end of the last piece
  std::string head_;       // the part's header section so far, after a CRLF of our own
  std::uint64_t total_ = 0;
  std::size_t parts_ = 0;
  std::size_t padding_ = 0;
  state state_ = state::preamble;
  multipart_error error_ = multipart_error::none;
};

}  // namespace hive

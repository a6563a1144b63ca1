// The multipart/form-data parser's state machine: delimiters found across pieces of any size,
// boundary lines, header sections gathered under their limit. The header fields themselves are
// read in multipart_fields.cpp.
#include "hive/multipart.hpp"

#include <algorithm>

#include "app/multipart_fields.hpp"

namespace hive {

const char* describe(multipart_error e) {
  switch (e) {
    case multipart_error::none: return "multipart: no error";
    case multipart_error::malformed: return "multipart: a boundary line or a part's header section is malformed";
    case multipart_error::no_disposition: return "multipart: a part lacks one Content-Disposition: form-data with a name";
    case multipart_error::too_many_parts: return "multipart: too many parts";
    case multipart_error::header_too_large: return "multipart: a part's header section is too large";
    case multipart_error::too_large: return "multipart: the body is too large";
    case multipart_error::unfinished: return "multipart: the body ended before its last boundary";
  }
  return "multipart: unknown error";
}

std::optional<std::string> multipart_parser::boundary(std::string_view content_type) {
  return detail::form_boundary(content_type);
}

multipart_parser::multipart_parser(std::string_view boundary, handlers h, multipart_limits limits)
    : h_(std::move(h)), limits_(limits), delimiter_("\r\n--") {
  delimiter_.append(boundary);
  // The first boundary may open the body with no CRLF before it: behave as if one came first.
  held_ = "\r\n";
}

void multipart_parser::fail(multipart_error e) {
  if (state_ == state::failed) return;
  state_ = state::failed;
  error_ = e;
  held_.clear();
  head_.clear();
  head_.shrink_to_fit();
}

bool multipart_parser::feed(std::string_view in) {
  if (state_ == state::failed) return false;
  // The bytes within the limit are parsed first: an error inside them wins, then the limit.
  const std::uint64_t room = limits_.max_total_bytes - std::min<std::uint64_t>(total_, limits_.max_total_bytes);
  const bool over = in.size() > room;
  if (over) in = in.substr(0, static_cast<std::size_t>(room));
  total_ += in.size();
  parse(in);
  if (over) fail(multipart_error::too_large);
  return state_ != state::failed;
}

void multipart_parser::parse(std::string_view in) {
  while (!in.empty() && state_ != state::failed) {
    switch (state_) {
      case state::preamble:
      case state::data:
        if (!held_.empty()) {
          resolve_held(in);
        } else {
          in.remove_prefix(scan(in));
        }
        break;
      case state::after_boundary:
      case state::padding:
      case state::boundary_lf:
      case state::close_dash:
        in.remove_prefix(boundary_line(in));
        break;
      case state::headers:
        in.remove_prefix(header_bytes(in));
        break;
      case state::epilogue:
        return;  // ignored, as RFC 2046 says
      case state::failed:
        break;
    }
  }
}

bool multipart_parser::finish() {
  if (state_ == state::failed) return false;
  if (state_ != state::epilogue) {
    fail(multipart_error::unfinished);
    return false;
  }
  return true;
}

// Preamble or data: everything up to the delimiter is the part's (or ignored); a delimiter that
// may begin in the last bytes is held until the next piece says.
std::size_t multipart_parser::scan(std::string_view in) {
  const auto emit = [this](std::string_view bytes) {
    if (state_ == state::data && !bytes.empty() && h_.on_data) h_.on_data(bytes);
  };
  if (const auto at = in.find(delimiter_); at != std::string_view::npos) {
    emit(in.substr(0, at));
    found_delimiter();
    return at + delimiter_.size();
  }
  // The longest tail of `in` that begins the delimiter (it begins with CR).
  const std::size_t from = in.size() >= delimiter_.size() ? in.size() - delimiter_.size() + 1 : 0;
  std::size_t keep = 0;
  for (std::size_t i = from; i < in.size(); ++i) {
    if (in[i] == '\r' && std::string_view(delimiter_).starts_with(in.substr(i))) {
      keep = in.size() - i;
      break;
    }
  }
  emit(in.substr(0, in.size() - keep));
  held_.assign(in.substr(in.size() - keep));
  return in.size();
}

// Bytes held from the last piece begin the delimiter: the next bytes finish it or show it was
// data after all (then the first held byte is data, and the rest is looked at again).
void multipart_parser::resolve_held(std::string_view& in) {
  const std::size_t need = delimiter_.size() - held_.size();
  const std::size_t n = std::min(need, in.size());
  if (in.substr(0, n) == std::string_view(delimiter_).substr(held_.size(), n)) {
    in.remove_prefix(n);
    if (n < need) {
      held_.append(delimiter_, held_.size(), n);
      return;
    }
    held_.clear();
    found_delimiter();
    return;
  }
  const std::string rest = held_.substr(1);
  const char first = held_[0];
  held_.clear();
  if (state_ == state::data && h_.on_data) h_.on_data(std::string_view(&first, 1));
  scan(rest);  // shorter than the delimiter: at most a new held tail
}

void multipart_parser::found_delimiter() {
  if (state_ == state::data && h_.on_part_end) h_.on_part_end();
  state_ = state::after_boundary;
  padding_ = 0;
}

// After `--boundary`: `--` closes the body; otherwise optional spaces or tabs, then CRLF.
std::size_t multipart_parser::boundary_line(std::string_view in) {
  std::size_t i = 0;
  for (; i < in.size() && state_ != state::failed; ++i) {
    const char c = in[i];
    switch (state_) {
      case state::after_boundary:
      case state::padding:
        if (c == '-' && state_ == state::after_boundary) {
          state_ = state::close_dash;
        } else if (c == ' ' || c == '\t') {
          state_ = state::padding;
          if (++padding_ > limits_.max_part_header_bytes) fail(multipart_error::header_too_large);
        } else if (c == '\r') {
          state_ = state::boundary_lf;
        } else {
          fail(multipart_error::malformed);
        }
        break;
      case state::close_dash:
        if (c != '-') {
          fail(multipart_error::malformed);
          break;
        }
        state_ = state::epilogue;
        return i + 1;
      case state::boundary_lf:
        if (c != '\n') {
          fail(multipart_error::malformed);
          break;
        }
        if (!start_part()) return i + 1;
        return i + 1;
      default:
        return i;
    }
  }
  return i;
}

bool multipart_parser::start_part() {
  if (++parts_ > limits_.max_parts) {
    fail(multipart_error::too_many_parts);
    return false;
  }
  state_ = state::headers;
  head_ = "\r\n";  // so that an empty header section ends at the first CRLF CRLF too
  return true;
}

// A part's header section: gathered until the blank line, then read as a whole.
std::size_t multipart_parser::header_bytes(std::string_view in) {
  const std::size_t before = head_.size();
  // Never more than the limit allows, plus the blank line's four bytes.
  const std::size_t room = limits_.max_part_header_bytes + 2 + 4 - before;
  head_.append(in.substr(0, std::min(in.size(), room)));
  const auto end = head_.find("\r\n\r\n", before >= 3 ? before - 3 : 0);
  if (end == std::string::npos) {
    if (head_.size() - 2 > limits_.max_part_header_bytes + 2) {
      fail(multipart_error::header_too_large);
      return in.size();
    }
    return std::min(in.size(), room);
  }
  const std::size_t consumed = end + 4 - before;
  // The field lines, each with its CRLF.
  const std::string_view section = std::string_view(head_).substr(2, end);
  if (section.size() > limits_.max_part_header_bytes) {
    fail(multipart_error::header_too_large);
    return consumed;
  }
  multipart_part part;
  if (const auto e = detail::parse_part_head(section, part); e != multipart_error::none) {
    fail(e);
    return consumed;
  }
  head_.clear();
  if (head_.capacity() > 4 * 1024) head_.shrink_to_fit();
  state_ = state::data;
  if (h_.on_part) h_.on_part(part);
  return consumed;
}

}  // namespace hive

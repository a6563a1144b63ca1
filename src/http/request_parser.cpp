#include "http/request_parser.hpp"

#include <algorithm>
#include <cstring>

#include "http/buffers.hpp"
#include "util/text.hpp"

namespace hive::detail {

namespace {
request_parser& self(llhttp_t* p) { return *static_cast<request_parser*>(p->data); }

}  // namespace

// llhttp wants its settings to outlive every parser: one table for the process.
const llhttp_settings_t request_parser::settings_ = [] {
  llhttp_settings_t s;
  llhttp_settings_init(&s);
  s.on_message_begin = &request_parser::on_message_begin;
  s.on_url = &request_parser::on_url;
  s.on_version = &request_parser::on_version;
  s.on_header_field = &request_parser::on_header_field;
  s.on_header_field_complete = &request_parser::on_header_field_complete;
  s.on_header_value = &request_parser::on_header_value;
  s.on_header_value_complete = &request_parser::on_header_value_complete;
  s.on_headers_complete = &request_parser::on_headers_complete;
  s.on_body = &request_parser::on_body;
  s.on_chunk_header = &request_parser::on_chunk_header;
  s.on_chunk_extension_name = &request_parser::on_chunk_extension_name;
  s.on_chunk_extension_name_complete = &request_parser::on_chunk_extension_name_complete;
  s.on_chunk_extension_value = &request_parser::on_chunk_extension_value;
  s.on_chunk_extension_value_complete = &request_parser::on_chunk_extension_value_complete;
  s.on_message_complete = &request_parser::on_message_complete;
  return s;
}();

request_parser::request_parser() {
  llhttp_init(&parser_, HTTP_REQUEST, &settings_);
  parser_.data = this;
}

void request_parser::reset(const parser_limits& limits) {
  limits_ = &limits;
  llhttp_reset(&parser_);
  state_ = state::idle;
  part_ = part::idle;
  last_byte_ = 0;
  messages_begun_ = 0;
}

request_parser::result request_parser::execute(input_buffer& in, conn_buffers& b, std::size_t from) {
  in_ = &in;
  b_ = &b;
  exec_from_ = from;
  if (state_ == state::idle) msg_start_ = from;
  char* base = in.data.get();
  llhttp_errno_t err = llhttp_execute(&parser_, base + from, in.len - from);
  if (err == HPE_INVALID_VERSION && part_ != part::failed && take_later_minor_as_11()) {
    // The message starts again with the version rewritten: llhttp has no way to resume after an
    // error, and its strict mode stays on. The same message, so no new header deadline.
    llhttp_reset(&parser_);
    --messages_begun_;
    exec_from_ = msg_start_;
    err = llhttp_execute(&parser_, base + msg_start_, in.len - msg_start_);
  }
  switch (err) {
    case HPE_OK:
      parsed_ = in.len;
      if (parsed_ > from) last_byte_ = base[parsed_ - 1];
      return trickle_limits_ok() ? result::need_more : result::error;
    case HPE_PAUSED:
    case HPE_PAUSED_UPGRADE:
      parsed_ = static_cast<std::size_t>(llhttp_get_error_pos(&parser_) - base);
      if (err == HPE_PAUSED) {
        llhttp_resume(&parser_);
      } else {
        llhttp_resume_after_upgrade(&parser_);
      }
      if (body_paused_) {
        body_paused_ = false;
        if (parsed_ > from) last_byte_ = base[parsed_ - 1];
        return result::body_paused;
      }
      // What the pause was for: the head (on_headers_complete leaves the parser at the body) or
      // the message's end (on_message_complete leaves it between messages).
      if (part_ == part::body) {
        last_byte_ = base[parsed_ - 1];
        return result::head_done;
      }
      if (chunked_ && !chunked_body_ends_in_crlf(from)) {
        fail(error::bad_chunk);
        return result::error;
      }
      state_ = state::idle;
      return result::message_done;
    default:
      // A rule of ours failed (llhttp reports a callback's refusal under its own code), or
      // llhttp's grammar did.
      if (part_ != part::failed) {
        error_ = error_from_llhttp(err);
        part_ = part::failed;
      }
      return result::error;
  }
}

// A head that trickles in without ever reaching a callback boundary still has a limit.
bool request_parser::trickle_limits_ok() {
  switch (part_) {
    case part::request_line:
    case part::version:
      if (parsed_ - msg_start_ > limits_->max_request_line_bytes + 32) {
        fail(error::target_too_long);
        return false;
      }
      return true;
    case part::fields:
    case part::field_name:
    case part::field_value:
      if (parsed_ - url_.end() > limits_->max_header_bytes + 4) {
        fail(error::header_too_large);
        return false;
      }
      return true;
    case part::idle:
    case part::body:
    case part::trailer_value:
    case part::trailer_value_split:
    case part::failed:
      return true;
  }
  return true;
}

void request_parser::rebase(std::size_t head_shift, std::size_t new_parsed) {
  auto move = [head_shift](span& s) {
    if (s.len != 0) s.off -= static_cast<std::uint32_t>(head_shift);
  };
  move(url_);
  for (auto& h : b_->raw_headers) {
    move(h.name);
    move(h.value);
  }
  msg_start_ -= std::min(msg_start_, head_shift);
  head_end_ -= std::min(head_end_, head_shift);
  parsed_ = new_parsed;
}

int request_parser::fail(error e) {
  error_ = e;
  part_ = part::failed;
  return HPE_USER;
}

void request_parser::append(span& s, const char* at, std::size_t len) {
  const auto off = static_cast<std::uint32_t>(at - in_->data.get());
  if (s.len == 0) s.off = off;
  s.len = off + static_cast<std::uint32_t>(len) - s.off;
  head_end_ = std::max<std::size_t>(head_end_, s.end());
}

// Called from the field lines only: the header section starts where the target ends.
int request_parser::check_head_bytes(std::size_t end_off) {
  return end_off - url_.end() > limits_->max_header_bytes ? fail(error::header_too_large) : 0;
}

int request_parser::on_message_begin(llhttp_t* p) {
  auto& s = self(p);
  s.state_ = state::head;
  s.part_ = part::request_line;
  ++s.messages_begun_;
  s.url_ = {};
  s.expect_continue_ = false;
  s.has_body_ = false;
  s.chunked_ = false;
  s.content_length_ = 0;
  s.body_seen_ = 0;
  s.body_limit_ = s.limits_->max_body_bytes;
  s.field_bytes_ = 0;
  s.ext_part_bytes_ = 0;
  s.chunk_meta_bytes_ = 0;
  s.head_end_ = s.msg_start_;
  s.method_ = {};
  s.b_->clear_request();
  return 0;
}

// RFC 9112 §3: exactly one SP between the parts of the request line. llhttp skips extra spaces;
// a strict server must not, since another parser in the chain may split the line differently.
bool request_parser::single_space_before(const char* at) const {
  const std::size_t off = static_cast<std::size_t>(at - in_->data.get());
  return off >= msg_start_ + 2 && at[-1] == ' ' && at[-2] != ' ';
}

int request_parser::on_url(llhttp_t* p, const char* at, std::size_t len) {
  auto& s = self(p);
  if (s.url_.len == 0 && !s.single_space_before(at)) return s.fail(error::bad_request_line);
  s.append(s.url_, at, len);
  return s.url_.len > s.limits_->max_request_line_bytes ? s.fail(error::target_too_long) : 0;
}

int request_parser::on_version(llhttp_t* p, const char* at, std::size_t) {
  auto& s = self(p);
  // llhttp's version span starts after "HTTP/"; a version split across reads comes in pieces.
  if (s.part_ == part::version) return 0;
  if (!s.single_space_before(at - 5)) return s.fail(error::bad_request_line);
  s.part_ = part::version;
  return 0;
}

int request_parser::on_header_field(llhttp_t* p, const char* at, std::size_t len) {
  auto& s = self(p);
  s.field_bytes_ += len;
  auto& hs = s.b_->raw_headers;
  switch (s.part_) {
    case part::body: return s.count_chunk_meta(len);  // a trailer: checked, not kept
    case part::field_name: break;                      // the name goes on in this read
    default:                                           // a new field line ends the line before
      if (hs.size() >= s.limits_->max_header_count) return s.fail(error::too_many_headers);
      hs.emplace_back();
      s.part_ = part::field_name;
      break;
  }
  s.append(hs.back().name, at, len);
  return s.check_head_bytes(static_cast<std::size_t>(at - s.in_->data.get()) + len);
}

// field-name = token (RFC 9110 §5.1): llhttp lets an empty name (a line starting with ':') through.
int request_parser::on_header_field_complete(llhttp_t* p) {
  auto& s = self(p);
  const bool empty = s.field_bytes_ == 0;
  s.field_bytes_ = 0;
  return empty ? s.fail(error::bad_header) : 0;
}

int request_parser::on_header_value(llhttp_t* p, const char* at, std::size_t len) {
  auto& s = self(p);
  const std::size_t end = static_cast<std::size_t>(at - s.in_->data.get()) + len;
  if (s.state_ == state::head) {  // the last field's value, in one piece or more
    s.part_ = part::field_value;
    s.append(s.b_->raw_headers.back().value, at, len);
    return s.check_head_bytes(end);
  }
  // Trailer values get the same byte rules as header values (validate_head): no control
  // characters, and no obs-fold, which llhttp reports as a second piece of the same value (a
  // piece that ended at the end of the buffer legitimately continues in the next read).
  switch (s.part_) {
    case part::trailer_value_split: return s.trailer_value_piece(at, len, end);  // goes on
    case part::trailer_value: return s.fail(error::bad_header);                 // an obs-fold
    default:  // the value's first piece
      if (s.folded(at)) return s.fail(error::bad_header);
      return s.trailer_value_piece(at, len, end);
  }
}

int request_parser::trailer_value_piece(const char* at, std::size_t len, std::size_t end) {
  part_ = end == in_->len ? part::trailer_value_split : part::trailer_value;
  if (!field_bytes_ok(std::string_view(at, len))) return fail(error::bad_header);
  return count_chunk_meta(len);
}

int request_parser::on_header_value_complete(llhttp_t* p) {
  auto& s = self(p);
  // The field line ends: another may follow, or the end of the head (or of the trailers).
  s.part_ = s.state_ == state::body ? part::body : part::fields;
  return 0;
}

int request_parser::on_headers_complete(llhttp_t* p) {
  auto& s = self(p);
  if (!s.head_lines_ok()) {
    return s.fail(s.request_line_has_version() ? error::bad_header : error::bad_request_line);
  }
  s.method_ = llhttp_method_name(static_cast<llhttp_method_t>(p->method));
  if (int rc = s.validate_head(); rc != 0) return rc;
  s.state_ = state::body;
  s.part_ = part::body;
  // With a body, pause at the head (execute reports head_done); without, the message ends at
  // once and is handled then.
  return s.has_body_ ? HPE_PAUSED : 0;
}

int request_parser::validate_head() {
  if (parser_.http_major != 1) return fail(error::bad_version);
  const bool http11 = parser_.http_minor >= 1;
  const char* base = in_->data.get();
  auto text = [base](span sp) { return std::string_view(base + sp.off, sp.len); };

  if (!target_ok(text(url_))) return fail(error::bad_request_line);

  int hosts = 0;
  std::string_view host, expect;
  bool has_te = false, te_chunked_last = false, te_other = false;
  int te_chunked = 0;
  bool conn_close = false, conn_keep_alive = false;
  for (const auto& h : b_->raw_headers) {
    const auto name = text(h.name);
    const auto value = trim_ows(text(h.value));
    // Host skips field_bytes_ok: valid_host below refuses every byte it would (llhttp has
    // already refused control bytes in any value, and head_lines_ok an obs-fold).
    if (iequals(name, "host")) {
      ++hosts;
      host = value;
      continue;
    }
    // llhttp lets obs-fold through (the value then holds CRLF SP): RFC 9112 §5.2 allows a 400,
    // and a fold another parser reads differently is a smuggling vector.
    if (!field_bytes_ok(value)) return fail(error::bad_header);
    if (iequals(name, "transfer-encoding")) {
      has_te = true;
      for_each_list_item(value, [&](std::string_view coding) {
        const bool chunked = iequals(coding, "chunked");
        te_chunked += chunked;
        te_other |= !chunked;
        te_chunked_last = chunked;
      });
    } else if (iequals(name, "expect")) {
      expect = value;
    } else if (iequals(name, "connection")) {
      // Read here, not only by llhttp: llhttp misses `close` followed by a tab, which is optional
      // whitespace (RFC 9110 §5.5) after which a server that went on would answer requests the
      // client meant to end with this one (RFC 9112 §9.6).
      for_each_list_item(value, [&](std::string_view option) {
        conn_close |= iequals(option, "close");
        conn_keep_alive |= iequals(option, "keep-alive");
      });
    }
  }
  // An empty Host names no authority, and an http URI with an empty host is invalid (RFC 9110
  // §4.2.1): refused, like a missing one.
  if (hosts > 1 || (http11 && hosts == 0) || (hosts == 1 && (host.empty() || !valid_host(host)))) {
    return fail(error::bad_host);
  }
  if (has_te) {
    // RFC 9112 §6.1: TE in HTTP/1.0 means broken framing; with Content-Length, smuggling.
    if (!http11 || (parser_.flags & F_CONTENT_LENGTH) != 0) return fail(error::bad_transfer_encoding);
    if (!te_chunked_last || te_chunked > 1) return fail(error::bad_transfer_encoding);
    if (te_other) return fail(error::unknown_transfer_encoding);
  }
  chunked_ = (parser_.flags & F_CHUNKED) != 0;
  content_length_ = chunked_ ? 0 : parser_.content_length;
  if ((parser_.flags & F_CONTENT_LENGTH) != 0 &&
      content_length_ > std::max(limits_->max_body_bytes, limits_->max_route_body_bytes)) {
    return fail(error::body_too_large);
  }
  has_body_ = chunked_ || content_length_ > 0;
  if (!expect.empty()) {
    if (!iequals(expect, "100-continue")) return fail(error::expectation_failed);
    // A 1.0 client does not understand 100 (RFC 9110 §10.1.1): just read its body.
    expect_continue_ = http11 && has_body_;
  }
  // Persistence (RFC 9112 §9.3): 1.1 unless `close`, 1.0 only with `keep-alive`. llhttp's own
  // view is kept as well: either side saying close closes.
  keep_alive_ = !conn_close && (http11 || conn_keep_alive) && llhttp_keeps_alive();
  return 0;
}

int request_parser::on_body(llhttp_t* p, const char* at, std::size_t len) {
  auto& s = self(p);
  s.body_seen_ += len;
  if (s.body_seen_ > s.body_limit_) return s.fail(error::body_too_large);
  if (s.b_->route.stream_body) {
    if (!s.b_->body_to->body_data(s.b_->route, {at, len})) {
      s.body_paused_ = true;
      return HPE_PAUSED;
    }
  } else {
    s.b_->body.append(at, len);
  }
  return 0;
}

int request_parser::on_chunk_header(llhttp_t* p) {
  auto& s = self(p);
  // Refuse an oversized chunk from its size line, before reading it.
  if (p->content_length > s.body_limit_ - std::min<std::uint64_t>(s.body_seen_, s.body_limit_)) {
    return s.fail(error::body_too_large);
  }
  return 0;
}

// chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ) (RFC 9112 §7.1.1):
// llhttp lets an empty name or value through. Extensions are ignored but still bytes a client
// can stream without end inside one chunk-size line, so they share the header section's budget.
int request_parser::on_chunk_extension_name(llhttp_t* p, const char*, std::size_t len) {
  auto& s = self(p);
  s.ext_part_bytes_ += len;
  return s.count_chunk_meta(len);
}

// Chunk extensions and trailers are bytes a client can stream without end while the body buffer
// stays empty: together they get the header section's budget, counted across reads.
int request_parser::count_chunk_meta(std::size_t len) {
  chunk_meta_bytes_ += len;
  return chunk_meta_bytes_ > limits_->max_header_bytes ? fail(error::header_too_large) : 0;
}

// A trailer value that begins after CRLF and whitespace continues the line before: obs-fold
// (possibly with an empty first line, which llhttp reports as one piece). Looks back through this
// read, then at the last byte of the one before.
bool request_parser::folded(const char* value) const {
  const char* base = in_->data.get();
  std::size_t i = static_cast<std::size_t>(value - base);
  while (i > exec_from_ && (base[i - 1] == ' ' || base[i - 1] == '\t')) --i;
  const char before = i > exec_from_ ? base[i - 1] : last_byte_;
  return before == '\n';
}

int request_parser::on_chunk_extension_name_complete(llhttp_t* p) {
  auto& s = self(p);
  const bool empty = s.ext_part_bytes_ == 0;
  s.ext_part_bytes_ = 0;
  return empty ? s.fail(error::bad_chunk) : 0;
}

int request_parser::on_chunk_extension_value(llhttp_t* p, const char* at, std::size_t len) {
  return on_chunk_extension_name(p, at, len);
}

int request_parser::on_chunk_extension_value_complete(llhttp_t* p) {
  return on_chunk_extension_name_complete(p);
}

int request_parser::on_message_complete(llhttp_t* p) {
  auto& s = self(p);
  // Only trailers, parsed since the head, could change the answer.
  if (s.chunked_) s.keep_alive_ = s.keep_alive_ && s.llhttp_keeps_alive();
  s.part_ = part::idle;
  return HPE_PAUSED;
}

// request-target forms (RFC 9112 §3.2): origin-form, absolute-form with an http(s) scheme, a
// non-empty host and no userinfo (RFC 9110 §4.2.1, §4.2.4), asterisk-form for OPTIONS only.
// authority-form (CONNECT) is left to llhttp. A fragment is never part of a request-target.
bool request_parser::target_ok(std::string_view target) const {
  if (parser_.method == HTTP_CONNECT) return true;
  if (target == "*") return parser_.method == HTTP_OPTIONS;
  // A loop, not find(): most targets are a few bytes, where memchr's set-up is most of the cost.
  for (const char c : target) {
    if (c == '#') return false;
  }
  if (target.starts_with('/')) return true;
  const auto colon = target.find("://");
  if (colon == std::string_view::npos) return false;
  const auto scheme = target.substr(0, colon);
  if (!iequals(scheme, "http") && !iequals(scheme, "https")) return false;
  const auto rest = target.substr(colon + 3);
  const auto authority = rest.substr(0, rest.find_first_of("/?"));
  return !authority.empty() && authority.find('@') == std::string_view::npos &&
         valid_host(authority);
}

// llhttp_should_keep_alive for a request, inline: the connection flags its header parsing set.
bool request_parser::llhttp_keeps_alive() const {
  if (parser_.http_major > 0 && parser_.http_minor > 0) return (parser_.flags & F_CONNECTION_CLOSE) == 0;
  return (parser_.flags & F_CONNECTION_KEEP_ALIVE) != 0;
}

// RFC 9112 §2.2: every line of the head ends in CRLF. llhttp takes a bare LF after the request
// line and as the empty line that ends the head; a peer that splits lines differently would see
// different requests, so refuse it. Also refuses obs-fold (a line starting with SP or HTAB,
// RFC 9112 §5.2) wherever it is, including after an empty value, where llhttp hides it.
// Scans from the message start to the empty line.
bool request_parser::head_lines_ok() const {
  const char* base = in_->data.get();
  std::size_t i = msg_start_;
  while (i < in_->len) {
    const void* lf = std::memchr(base + i, '\n', in_->len - i);
    if (lf == nullptr) return true;
    i = static_cast<std::size_t>(static_cast<const char*>(lf) - base);
    if (i == msg_start_ || base[i - 1] != '\r') return false;
    if (i > head_end_ && i >= msg_start_ + 3 && base[i - 2] == '\n') return true;  // the empty line
    ++i;
    if (i < in_->len && (base[i] == ' ' || base[i] == '\t')) return false;
  }
  return true;
}

// llhttp lets a request line without a version (the HTTP/0.9 form) through to the fields: its
// target then ends the line, where a version is one space away.
bool request_parser::request_line_has_version() const {
  return url_.len != 0 && url_.end() < in_->len && in_->data[url_.end()] == ' ';
}

// The same for the end of a chunked body (last-chunk, trailers, the empty line), which llhttp
// also takes with a bare LF. `from` is where this execute() began: the CR may have come earlier.
bool request_parser::chunked_body_ends_in_crlf(std::size_t from) const {
  const char* base = in_->data.get();
  if (parsed_ <= from || base[parsed_ - 1] != '\n') return true;  // ended by a callback, not a LF
  const char before = parsed_ - 1 > from ? base[parsed_ - 2] : last_byte_;
  return before == '\r';
}

// llhttp's strict mode knows the versions 0.9, 1.0, 1.1 and 2.0 and refuses the rest. HTTP/1.2
// and later minors are to be read as the highest 1.x this server knows (RFC 9110 §2.5): when
// that is why llhttp stopped, rewrite the minor digit to 1 in the buffer and return true.
bool request_parser::take_later_minor_as_11() {
  if (parser_.http_major != 1 || parser_.http_minor < 2 || url_.len == 0) return false;
  const std::size_t v = url_.end() + 1;  // "HTTP/1.N"
  if (v + 8 > in_->len) return false;
  char* at = in_->data.get() + v;
  if (std::string_view(at, 7) != "HTTP/1." || !is_digit(at[7]) || at[7] < '2') return false;
  at[7] = '1';
  return true;
}

error request_parser::error_from_llhttp(llhttp_errno_t e) const {
  const char* base = in_->data.get();
  switch (e) {
    case HPE_INVALID_METHOD: {
      // A method that is a valid token but not one llhttp knows: 501, not 400 (RFC 9110 §9.1).
      std::size_t i = msg_start_;
      while (i < in_->len && (base[i] == '\r' || base[i] == '\n')) ++i;
      const std::size_t first = i;
      while (i < in_->len && is_tchar(base[i])) ++i;
      if (i > first && (i == in_->len || base[i] == ' ')) return error::unknown_method;
      return error::bad_request_line;
    }
    case HPE_INVALID_VERSION: {
      std::size_t i = url_.end() + 1;
      std::string_view rest(base + std::min(i, in_->len), in_->len - std::min(i, in_->len));
      // Only a version in the grammar (HTTP/DIGIT.DIGIT, then CRLF) earns a 505; "HTTP/1.10",
      // "HTTP/1.1 " or a bare CR after it is a malformed request line.
      if (rest.size() >= 8 && rest.starts_with("HTTP/") && is_digit(rest[5]) && rest[6] == '.' &&
          is_digit(rest[7]) && (rest.size() == 8 || rest[8] == '\r') &&
          (rest.size() <= 9 || rest[9] == '\n')) {
        return error::bad_version;
      }
      return error::bad_request_line;
    }
    case HPE_INVALID_URL: return error::bad_request_line;
    case HPE_INVALID_CONTENT_LENGTH:
    case HPE_UNEXPECTED_CONTENT_LENGTH: return error::bad_content_length;
    case HPE_INVALID_TRANSFER_ENCODING: return error::bad_transfer_encoding;
    case HPE_INVALID_CHUNK_SIZE: return error::bad_chunk;
    default:
      switch (part_) {
        case part::request_line:
        case part::version:
        case part::failed: return error::bad_request_line;
        case part::idle:  // data after a message that closes the connection
        case part::fields:
        case part::field_name:
        case part::field_value: return error::bad_header;
        case part::body:
        case part::trailer_value:
        case part::trailer_value_split: return error::bad_chunk;
      }
      return error::bad_request_line;
  }
}

}  // namespace hive::detail

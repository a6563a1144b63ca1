#include "http/request_parser.hpp"

#include <algorithm>

#include "http/text.hpp"

namespace hive::detail {

namespace {
request_parser& self(llhttp_t* p) { return *static_cast<request_parser*>(p->data); }

}  // namespace

// llhttp wants its settings to outlive every parser: one table for the process.
const llhttp_settings_t request_parser::settings_ = [] {
  llhttp_settings_t s;
  llhttp_settings_init(&s);
  s.on_message_begin = &request_parser::on_message_begin;
  s.on_method = &request_parser::on_method;
  s.on_url = &request_parser::on_url;
  s.on_version = &request_parser::on_version;
  s.on_header_field = &request_parser::on_header_field;
  s.on_header_value = &request_parser::on_header_value;
  s.on_header_value_complete = &request_parser::on_header_value_complete;
  s.on_headers_complete = &request_parser::on_headers_complete;
  s.on_body = &request_parser::on_body;
  s.on_chunk_header = &request_parser::on_chunk_header;
  s.on_message_complete = &request_parser::on_message_complete;
  return s;
}();

request_parser::request_parser(const parser_limits& limits) : limits_(limits) {
  llhttp_init(&parser_, HTTP_REQUEST, &settings_);
  parser_.data = this;
}

request_parser::result request_parser::execute(conn_buffers& b, std::size_t from) {
  b_ = &b;
  if (state_ == state::idle) msg_start_ = from;
  head_event_ = false;
  const char* base = b.in.get();
  const llhttp_errno_t err = llhttp_execute(&parser_, base + from, b.in_len - from);
  switch (err) {
    case HPE_OK:
      parsed_ = b.in_len;
      // A head that trickles in without ever reaching a callback boundary still has a limit.
      if (state_ == state::head) {
        if (!url_done_ && parsed_ - msg_start_ > limits_.max_request_line_bytes + 32) {
          fail(error::target_too_long);
          return result::error;
        }
        if (url_done_ && parsed_ - url_.end() > limits_.max_header_bytes + 4) {
          fail(error::header_too_large);
          return result::error;
        }
      }
      return result::need_more;
    case HPE_PAUSED:
    case HPE_PAUSED_UPGRADE:
      parsed_ = static_cast<std::size_t>(llhttp_get_error_pos(&parser_) - base);
      if (err == HPE_PAUSED) {
        llhttp_resume(&parser_);
      } else {
        llhttp_resume_after_upgrade(&parser_);
      }
      if (head_event_) return result::head_done;
      state_ = state::idle;
      return result::message_done;
    default:
      // A rule of ours failed (llhttp reports a callback's refusal under its own code), or
      // llhttp's grammar did.
      if (!failed_) error_ = error_from_llhttp(err);
      failed_ = true;
      return result::error;
  }
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
  failed_ = true;
  return HPE_USER;
}

void request_parser::append(span& s, const char* at, std::size_t len) {
  const auto off = static_cast<std::uint32_t>(at - b_->in.get());
  if (s.len == 0) s.off = off;
  s.len = off + static_cast<std::uint32_t>(len) - s.off;
  head_end_ = std::max<std::size_t>(head_end_, s.end());
}

int request_parser::check_head_bytes(std::size_t end_off) {
  if (state_ == state::body) {
    // Trailers count against the same budget as the header section.
    return end_off - head_end_ > limits_.max_header_bytes ? fail(error::header_too_large) : 0;
  }
  if (url_done_ && end_off - url_.end() > limits_.max_header_bytes) {
    return fail(error::header_too_large);
  }
  return 0;
}

int request_parser::on_message_begin(llhttp_t* p) {
  auto& s = self(p);
  s.state_ = state::head;
  ++s.messages_begun_;
  s.url_ = {};
  s.url_done_ = false;
  s.version_seen_ = false;
  s.in_value_ = false;
  s.expect_continue_ = false;
  s.has_body_ = false;
  s.chunked_ = false;
  s.content_length_ = 0;
  s.body_seen_ = 0;
  s.head_end_ = s.msg_start_;
  s.method_ = {};
  s.b_->clear_request();
  return 0;
}

int request_parser::on_method(llhttp_t*, const char*, std::size_t) { return 0; }

// RFC 9112 §3: exactly one SP between the parts of the request line. llhttp skips extra spaces;
// a strict server must not, since another parser in the chain may split the line differently.
bool request_parser::single_space_before(const char* at) const {
  const std::size_t off = static_cast<std::size_t>(at - b_->in.get());
  return off >= msg_start_ + 2 && at[-1] == ' ' && at[-2] != ' ';
}

int request_parser::on_url(llhttp_t* p, const char* at, std::size_t len) {
  auto& s = self(p);
  if (s.url_.len == 0 && !s.single_space_before(at)) return s.fail(error::bad_request_line);
  s.append(s.url_, at, len);
  return s.url_.len > s.limits_.max_request_line_bytes ? s.fail(error::target_too_long) : 0;
}

int request_parser::on_version(llhttp_t* p, const char* at, std::size_t) {
  auto& s = self(p);
  // llhttp's version span starts after "HTTP/".
  if (!s.version_seen_ && !s.single_space_before(at - 5)) return s.fail(error::bad_request_line);
  s.version_seen_ = true;
  return 0;
}

int request_parser::on_header_field(llhttp_t* p, const char* at, std::size_t len) {
  auto& s = self(p);
  s.url_done_ = true;
  const std::size_t end = static_cast<std::size_t>(at - s.b_->in.get()) + len;
  if (s.state_ == state::body) return s.check_head_bytes(end);  // trailer: checked, not kept
  auto& hs = s.b_->raw_headers;
  if (!s.field_open_) {
    if (hs.size() >= s.limits_.max_header_count) return s.fail(error::too_many_headers);
    hs.emplace_back();
  }
  s.field_open_ = true;
  s.in_value_ = false;
  s.append(hs.back().name, at, len);
  return s.check_head_bytes(end);
}

int request_parser::on_header_value(llhttp_t* p, const char* at, std::size_t len) {
  auto& s = self(p);
  const std::size_t end = static_cast<std::size_t>(at - s.b_->in.get()) + len;
  if (s.state_ == state::body) return s.check_head_bytes(end);
  s.in_value_ = true;
  s.append(s.b_->raw_headers.back().value, at, len);
  return s.check_head_bytes(end);
}

int request_parser::on_header_value_complete(llhttp_t* p) {
  auto& s = self(p);
  s.in_value_ = false;
  s.field_open_ = false;
  return 0;
}

int request_parser::on_headers_complete(llhttp_t* p) {
  auto& s = self(p);
  s.url_done_ = true;
  s.method_ = llhttp_method_name(static_cast<llhttp_method_t>(p->method));
  if (int rc = s.validate_head(); rc != 0) return rc;
  s.state_ = state::body;
  if (!s.has_body_) return 0;  // no pause: the message ends at once and is handled then
  s.head_event_ = true;
  return HPE_PAUSED;
}

int request_parser::validate_head() {
  if (parser_.http_major != 1) return fail(error::bad_version);
  const bool http11 = parser_.http_minor >= 1;
  const char* base = b_->in.get();
  auto text = [base](span sp) { return std::string_view(base + sp.off, sp.len); };

  // asterisk-form is for OPTIONS only (RFC 9112 §3.2.4).
  if (text(url_) == "*" && parser_.method != HTTP_OPTIONS) return fail(error::bad_request_line);

  int hosts = 0;
  std::string_view host, expect;
  bool has_te = false, te_chunked_last = false, te_other = false;
  int te_chunked = 0;
  for (const auto& h : b_->raw_headers) {
    const auto name = text(h.name);
    const auto value = trim_ows(text(h.value));
    // llhttp lets obs-fold through (the value then holds CRLF SP): RFC 9112 §5.2 allows a 400,
    // and a fold another parser reads differently is a smuggling vector.
    for (char c : value) {
      const auto u = static_cast<unsigned char>(c);
      if ((u < 0x20 && c != '\t') || u == 0x7f) return fail(error::bad_header);
    }
    if (iequals(name, "host")) {
      ++hosts;
      host = value;
    } else if (iequals(name, "transfer-encoding")) {
      has_te = true;
      for_each_list_item(value, [&](std::string_view coding) {
        const bool chunked = iequals(coding, "chunked");
        te_chunked += chunked;
        te_other |= !chunked;
        te_chunked_last = chunked;
      });
    } else if (iequals(name, "expect")) {
      expect = value;
    }
  }
  if (hosts > 1 || (http11 && hosts == 0) || (hosts == 1 && !valid_host(host))) {
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
  if ((parser_.flags & F_CONTENT_LENGTH) != 0 && content_length_ > limits_.max_body_bytes) {
    return fail(error::body_too_large);
  }
  has_body_ = chunked_ || content_length_ > 0;
  if (!expect.empty()) {
    if (!iequals(expect, "100-continue")) return fail(error::expectation_failed);
    // A 1.0 client does not understand 100 (RFC 9110 §10.1.1): just read its body.
    expect_continue_ = http11 && has_body_;
  }
  keep_alive_ = llhttp_should_keep_alive(&parser_) != 0;
  return 0;
}

int request_parser::on_body(llhttp_t* p, const char* at, std::size_t len) {
  auto& s = self(p);
  s.body_seen_ += len;
  if (s.body_seen_ > s.limits_.max_body_bytes) return s.fail(error::body_too_large);
  s.b_->body.append(at, len);
  return 0;
}

int request_parser::on_chunk_header(llhttp_t* p) {
  auto& s = self(p);
  // Refuse an oversized chunk from its size line, before reading it.
  if (p->content_length > s.limits_.max_body_bytes - std::min(s.body_seen_, s.limits_.max_body_bytes)) {
    return s.fail(error::body_too_large);
  }
  return 0;
}

int request_parser::on_message_complete(llhttp_t* p) {
  auto& s = self(p);
  s.keep_alive_ = s.keep_alive_ && llhttp_should_keep_alive(p) != 0;
  return HPE_PAUSED;
}

error request_parser::error_from_llhttp(llhttp_errno_t e) const {
  const char* base = b_->in.get();
  switch (e) {
    case HPE_INVALID_METHOD: {
      // A method that is a valid token but not one llhttp knows: 501, not 400 (RFC 9110 §9.1).
      std::size_t i = msg_start_;
      while (i < b_->in_len && (base[i] == '\r' || base[i] == '\n')) ++i;
      const std::size_t first = i;
      while (i < b_->in_len && is_tchar(base[i])) ++i;
      if (i > first && (i == b_->in_len || base[i] == ' ')) return error::unknown_method;
      return error::bad_request_line;
    }
    case HPE_INVALID_VERSION: {
      std::size_t i = url_.end() + 1;
      std::string_view rest(base + std::min(i, b_->in_len), b_->in_len - std::min(i, b_->in_len));
      if (rest.size() >= 8 && rest.starts_with("HTTP/") && is_digit(rest[5]) && rest[6] == '.' &&
          is_digit(rest[7])) {
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
      if (state_ == state::body) return error::bad_chunk;
      return url_done_ ? error::bad_header : error::bad_request_line;
  }
}

}  // namespace hive::detail

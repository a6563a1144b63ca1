// libFuzzer target over the sans-I/O session: arbitrary bytes, fed in arbitrary splits, and an
// invariant checker on every byte the session asks to write.
//
// Input layout: byte 0 is a set of flags (below); then 2 bytes per split point; the rest is what
// the client sends. Seeds (tests/fuzz/seeds.py) are byte 0 = 0 followed by a request stream.
//
// Invariants: the output is a sequence of well-formed HTTP/1.1 responses (status line, token
// names, no control bytes in values, Content-Length framing, none on 1xx/204/304); at most one
// final response per request begun, plus one for a rejection; handler responses in request
// order; error responses carry only hive's own text, never request bytes; nothing after a
// response that says `Connection: close`; a closing session asks for no more input.
#include <algorithm>
#include <charconv>
#include <limits>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <hive/hive.hpp>

#include "http/date_cache.hpp"
#include "app/app_dispatcher.hpp"
#include "http/session.hpp"
#include "unit/output_text.hpp"

namespace {

enum flags : std::uint8_t {
  split_count_mask = 0x07,  // split points that follow: 0..7
  small_limits = 0x08,      // limits small enough for the fuzzer to hit
  eof_at_end = 0x10,        // the client half-closes after sending everything
  timeout_at_end = 0x20,    // the session's deadline passes after everything
  finish_deferred = 0x40,   // parked deferred responses finish at every split
  trickle_output = 0x80,    // the client reads its responses a few bytes at a time
};

int seq = 0;  // handler responses, numbered in the order the handlers ran
std::vector<hive::deferred> parked;
std::vector<hive::stream> open_streams;

void number(hive::response& res) { res.header("X-Seq", std::to_string(seq++)); }

const hive::app& fuzz_app() {
  static const hive::app a = [] {
    hive::app app;
    // Bodies never start with "HTTP/": the checker tells a HEAD answer by what follows it.
    app.post("/echo", [](const hive::request& req, hive::response& res) {
      number(res);
      res.text("n=" + std::to_string(req.body().size()));
    });
    app.get("/204", [](const hive::request&, hive::response& res) {
      number(res);
      res.status(204).text("dropped");
    });
    app.get("/304", [](const hive::request&, hive::response& res) {
      number(res);
      res.status(304).text("dropped");
    });
    app.get("/close", [](const hive::request&, hive::response& res) {
      number(res);
      res.header("Connection", "close").text("bye");
    });
    app.get("/throw", [](const hive::request&, hive::response& res) {
      number(res);
      throw std::runtime_error("secret");
    });
    app.get("/defer", [](const hive::request&, hive::response& res) {
      number(res);
      parked.push_back(res.defer());
    });
    app.get("/stream", [](const hive::request&, hive::response& res) {
      number(res);
      auto s = res.stream();
      s.write("a");
      s.write("");
      s.write("bc");
      s.end();
    });
    // Ended when parked responses finish; cut if still open at the end.
    app.get("/stream-later", [](const hive::request&, hive::response& res) {
      number(res);
      auto s = res.stream();
      s.write("first");
      open_streams.push_back(s);
    });
    app.get("/users/:id", [](const hive::request& req, hive::response& res) {
      number(res);
      res.text("id " + std::to_string(req.param("id")->size()));
    });
    app.get("/*", [](const hive::request&, hive::response& res) {
      number(res);
      res.text("Hello, world!\n");
    });
    return app;
  }();
  return a;
}

[[noreturn]] void broken(const char* what, std::string_view out) {
  std::fprintf(stderr, "invariant broken: %s\noutput (%zu bytes):\n%.*s\n", what, out.size(),
               static_cast<int>(std::min<std::size_t>(out.size(), 4000)), out.data());
  std::abort();
}

bool is_tchar(char c) {
  return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// hive's own bodies for responses no handler wrote (rejections, 404, 405, 500).
bool own_body(int status, std::string_view body) {
  if (body.empty()) return true;
  if (body == "Not Found\n" || body == "Method Not Allowed\n" || body == "Internal Server Error\n") {
    return true;
  }
  // A rejection's body is its reason phrase and a newline: letters, spaces, '-'.
  if (status < 400 || body.back() != '\n') return false;
  for (char c : body.substr(0, body.size() - 1)) {
    if (!((c | 0x20) >= 'a' && (c | 0x20) <= 'z') && c != ' ' && c != '-') return false;
  }
  return true;
}

struct checker {
  int finals = 0;
  int last_seq = -1;
  bool closed = false;
  bool unfinished_stream = false;  // the output ends inside a streamed body

  void check(std::string_view out) {
    std::size_t pos = 0;
    while (pos < out.size()) {
      if (closed) broken("bytes after a Connection: close response", out);
      const auto end = out.find("\r\n\r\n", pos);
      if (end == std::string_view::npos) broken("incomplete response head", out);
      std::string_view head = out.substr(pos, end - pos);
      std::string_view line = head.substr(0, head.find("\r\n"));
      if (line.size() < 13 || !line.starts_with("HTTP/1.1 ") || line[12] != ' ') {
        broken("bad status line", out);
      }
      const int status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
      if (status < 100 || status > 599 || line[9] < '1' || line[9] > '5') broken("bad status", out);
      long length = -1;
      int lengths = 0, seqs = 0, dates = 0, chunked = 0;
      long seq_value = -1;
      bool close = false;
      std::string_view fields = line.size() < head.size() ? head.substr(line.size() + 2) : "";
      while (!fields.empty()) {
        const auto e = fields.find("\r\n");
        const auto f = fields.substr(0, e);
        const auto colon = f.find(':');
        if (colon == 0 || colon == std::string_view::npos) broken("field without a name", out);
        for (char c : f.substr(0, colon)) {
          if (!is_tchar(c)) broken("field name not a token", out);
        }
        if (f.size() < colon + 2 || f[colon + 1] != ' ') broken("field without SP after colon", out);
        const auto value = f.substr(colon + 2);
        for (char c : value) {
          const auto u = static_cast<unsigned char>(c);
          if ((u < 0x20 && c != '\t') || u == 0x7f) broken("control byte in a field value", out);
        }
        const auto name = f.substr(0, colon);
        if (name == "Content-Length") {
          ++lengths;
          length = std::strtol(std::string(value).c_str(), nullptr, 10);
        } else if (name == "X-Seq") {
          ++seqs;
          seq_value = std::strtol(std::string(value).c_str(), nullptr, 10);
        } else if (name == "Date") {
          ++dates;
        } else if (name == "Connection") {
          close = value == "close";
        } else if (name == "Transfer-Encoding") {
          if (value != "chunked") broken("Transfer-Encoding other than chunked", out);
          ++chunked;
        }
        if (e == std::string_view::npos) break;
        fields.remove_prefix(e + 2);
      }
      pos = end + 4;
      if (status == 100) {
        if (head.size() != line.size() || line != "HTTP/1.1 100 Continue") broken("bad 100", out);
        continue;
      }
      ++finals;
      if (dates != 1) broken("not exactly one Date", out);
      const bool bodiless = status < 200 || status == 204 || status == 304;
      if (chunked > 1 || (chunked == 1 && (lengths != 0 || bodiless || seqs != 1))) {
        broken("a streamed answer framed wrong", out);
      }
      if (chunked == 0 && (bodiless ? lengths != 0 : lengths != 1) && !(seqs == 1 && lengths == 0 && !bodiless)) {
        broken("Content-Length count", out);
      }
      std::string_view body;
      if (chunked == 1) {
        // A streamed body: chunks to the last one, or cut (or still open) at the end of output.
        bool complete = false;
        while (pos < out.size()) {
          const auto size_end = out.find("\r\n", pos);
          if (size_end == std::string_view::npos) break;
          std::size_t n = 0;
          const auto [ptr, ec] = std::from_chars(out.data() + pos, out.data() + size_end, n, 16);
          if (ec != std::errc() || ptr != out.data() + size_end) broken("bad chunk size", out);
          if (n == 0) {
            if (out.substr(size_end, 4) != "\r\n\r\n") broken("bad last chunk", out);
            pos = size_end + 4;
            complete = true;
            break;
          }
          if (out.size() < size_end + 2 + n + 2) break;
          if (out.substr(size_end + 2 + n, 2) != "\r\n") broken("chunk without CRLF", out);
          pos = size_end + 2 + n + 2;
        }
        if (!complete) {
          if (pos != out.size()) broken("bytes after an unfinished stream", out);
          closed = true;  // nothing may follow a cut or open stream
          unfinished_stream = true;
        }
      } else if (seqs == 1 && lengths == 0 && !bodiless) {
        // A stream answered to HEAD (neither length nor chunks), or to HTTP/1.0: its body runs
        // to the close.
        if (close) {
          pos = out.size();
          unfinished_stream = true;  // the body may still be open: only the close ends it
        }
      } else if (!bodiless && length > 0) {
        // A HEAD answer has the length but no body: the next response (or the end) follows at
        // once. No body hive or this app sends starts with "HTTP/", so the two cannot be confused.
        const auto rest = out.substr(pos);
        const auto n = static_cast<std::size_t>(length);
        const bool head_like = rest.empty() || rest.starts_with("HTTP/1.1 ");
        const bool body_fits = rest.size() >= n && (rest.size() == n || rest.substr(n).starts_with("HTTP/1.1 "));
        if (!body_fits && !head_like) broken("body does not match Content-Length", out);
        if (body_fits) {
          body = rest.substr(0, n);
          pos += n;
        }
      }
      if (seqs > 1) broken("two X-Seq", out);
      if (seqs == 1) {
        if (seq_value <= last_seq) broken("handler responses out of order", out);
        last_seq = static_cast<int>(seq_value);
      } else if (!own_body(status, body)) {
        broken("a response no handler wrote carries foreign bytes", out);
      }
      if (close) closed = true;
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t f = data[0];
  std::size_t splits = f & split_count_mask;
  std::size_t header = 1 + 2 * splits;
  if (size < header) return 0;
  std::string_view input(reinterpret_cast<const char*>(data + header), size - header);
  std::vector<std::size_t> cuts;
  for (std::size_t i = 0; i < splits; ++i) {
    const std::size_t v = data[1 + 2 * i] | (data[2 + 2 * i] << 8);
    cuts.push_back(input.empty() ? 0 : v % (input.size() + 1));
  }
  std::sort(cuts.begin(), cuts.end());
  cuts.push_back(input.size());

  hive::detail::date_cache date;
  date.refresh(784111777);
  hive::detail::session_config cfg;
  cfg.date = &date;
  if ((f & small_limits) != 0) {
    cfg.limits.max_request_line_bytes = 64;
    cfg.limits.max_header_bytes = 256;
    cfg.limits.max_header_count = 8;
    cfg.limits.max_body_bytes = 128;
  }
  hive::detail::buffer_pool pool(4);
  hive::detail::input_pool inputs(1024, 4);
  seq = 0;
  parked.clear();
  open_streams.clear();
  checker chk;
  std::string out;
  {
    hive::detail::app_dispatcher dispatch(fuzz_app(), nullptr);
    hive::detail::session s(dispatch, cfg, pool, inputs);
    auto drain = [&] {
      const std::size_t step = (f & trickle_output) != 0 ? 7 : std::numeric_limits<std::size_t>::max();
      while (hive::test::take_output(s, out, step) != 0) {
      }
    };
    std::size_t at = 0;
    for (const std::size_t cut : cuts) {
      std::string_view piece = input.substr(at, cut - at);
      at = cut;
      while (!piece.empty() && hive::test::wants_read(s)) {
        auto in = s.prepare();
        if (in.empty()) broken("prepare() gave nothing while the session wants to read", out);
        const std::size_t n = std::min(in.size(), piece.size());
        std::memcpy(in.data(), piece.data(), n);
        s.commit(n);
        piece.remove_prefix(n);
        drain();
      }
      if ((f & finish_deferred) != 0) {
        auto waiting = std::move(parked);
        parked.clear();
        for (auto& d : waiting) d.finish([](hive::response& r) { r.text("later"); });
        auto streaming = std::move(open_streams);
        open_streams.clear();
        for (auto& st : streaming) {
          st.write("more");
          st.end();
        }
        s.resume();  // what the connection's wake does from its loop
        drain();
      }
    }
    if ((f & eof_at_end) != 0) s.on_eof();
    if ((f & timeout_at_end) != 0) s.timeout();
    drain();
    chk.check(out);
    // A stream the application still holds open legitimately keeps the session going.
    const bool app_holds_stream = chk.unfinished_stream && !open_streams.empty();
    if (chk.closed && !app_holds_stream && (hive::test::wants_read(s) || !hive::test::done(s))) {
      broken("closed but the session goes on", out);
    }
    if (chk.finals > static_cast<int>(s.messages_begun()) + 1) broken("more answers than requests", out);
    // Unfinished handles answer 500 as they go, which may run the next pipelined handler and
    // park another: never destroy them inside `parked` itself.
    while (!parked.empty() || !open_streams.empty()) {
      auto dropped = std::move(parked);
      parked.clear();
      auto cut = std::move(open_streams);
      open_streams.clear();
    }
  }
  if (pool.idle() > 4 || inputs.idle() > 4) broken("the pool kept more buffers than asked", out);
  return 0;
}

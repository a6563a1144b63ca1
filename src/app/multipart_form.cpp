// hive::multipart_form: a multipart_parser fed by a body_reader, parts sent where on_part says,
// and the request answered through a deferred response.
#include "hive/multipart_form.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "util/log.hpp"
#include "util/text.hpp"

namespace hive {

multipart_form::sink multipart_form::sink::file(std::string path) {
  sink s(kind::file);
  s.path_ = std::move(path);
  return s;
}

multipart_form::sink multipart_form::sink::data(std::function<void(std::string_view)> f) {
  sink s(kind::data);
  s.data_ = std::move(f);
  return s;
}

struct multipart_form::state {
  options opts;
  std::optional<multipart_parser> parser;
  deferred answer;
  std::function<sink(const part&)> choose;
  std::function<void(std::vector<part>&, response&)> done;
  std::function<void()> failed;
  std::vector<part> parts;
  sink current = sink::keep();
  int fd = -1;
  bool over = false;  // answered, refused or abandoned: the rest of the body is ignored

  explicit state(options o) : opts(std::move(o)) {}
  ~state() {
    if (fd >= 0) ::close(fd);
  }

  void begin(const multipart_part& head) {
    if (over) return;
    auto& p = parts.emplace_back();
    p.name = head.name;
    p.filename = head.filename;
    p.content_type = head.content_type;
    current = sink::keep();
    if (choose) {
      try {
        current = choose(p);
      } catch (const std::exception& e) {
        detail::warn("a multipart form's on_part threw: ", e.what());
        return refuse(500, "internal server error");
      }
    }
    if (current.kind_ != sink::kind::file) return;
    fd = ::open(current.path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
      detail::warn("a multipart form cannot create ", current.path_, ": ", std::strerror(errno));
      return refuse(500, "cannot store the upload");
    }
    p.saved_to = current.path_;
  }

  void data(std::string_view bytes) {
    if (over || parts.empty()) return;
    auto& p = parts.back();
    p.size += bytes.size();
    switch (current.kind_) {
      case sink::kind::keep:
        if (p.value.size() + bytes.size() > opts.max_field_bytes) return refuse(413, "multipart: a field is too large");
        p.value.append(bytes);
        return;
      case sink::kind::file:
        return write_file(bytes);
      case sink::kind::data:
        try {
          if (current.data_) current.data_(bytes);
        } catch (const std::exception& e) {
          detail::warn("a multipart form's data callback threw: ", e.what());
          refuse(500, "internal server error");
        }
        return;
      case sink::kind::discard:
        return;
    }
  }

  void write_file(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::write(fd, bytes.data(), bytes.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        detail::warn("a multipart form cannot write ", current.path_, ": ", std::strerror(errno));
        return refuse(500, "cannot store the upload");
      }
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  void part_end() {
    if (over || fd < 0) return;
    const int f = fd;
    fd = -1;
    if (::close(f) != 0) refuse(500, "cannot store the upload");
  }

  // Bytes of the body: parsed; a refusal is answered.
  void feed(std::string_view bytes) {
    if (over) return;
    if (!parser->feed(bytes) && !over) refuse_parse();
  }

  void refuse_parse() {
    const auto e = parser->error();
    const bool limit = e == multipart_error::too_many_parts || e == multipart_error::header_too_large ||
                       e == multipart_error::too_large;
    refuse(limit ? 413 : 400, describe(e));
  }

  // The body ended (complete) or never will.
  void end(bool complete) {
    if (over) return;
    if (!complete) return abandon();
    if (!parser->finish()) return refuse_parse();
    over = true;
    answer.finish([this](response& r) {
      if (!done) {
        r.status(204);
        return;
      }
      try {
        done(parts, r);
      } catch (...) {
        remove_files();
        throw;  // the deferred answers 500
      }
    });
  }

  void refuse(int status, std::string_view why) {
    over = true;
    remove_files();
    run_failed();
    answer.finish([&](response& r) { r.status(status).text(std::string(why) + "\n"); });
  }

  void abandon() {
    over = true;
    remove_files();
    run_failed();
  }

  void run_failed() {
    auto f = std::move(failed);
    failed = nullptr;
    if (!f) return;
    try {
      f();
    } catch (const std::exception& e) {
      detail::warn("a multipart form's on_fail threw: ", e.what());
    }
  }

  void remove_files() {
    if (fd >= 0) ::close(fd);
    fd = -1;
    for (auto& p : parts) {
      if (!p.saved_to.empty()) ::unlink(p.saved_to.c_str());
      p.saved_to.clear();
    }
  }
};

namespace {
// The media type of a Content-Type is multipart/form-data (whatever its parameters).
bool is_form_data(std::string_view content_type) {
  const auto semi = content_type.find(';');
  return detail::iequals(detail::trim_ows(content_type.substr(0, semi)), "multipart/form-data");
}
}  // namespace

multipart_form::multipart_form(const request& req, response& res, options opts) {
  const auto type = req.header("Content-Type").value_or("");
  auto boundary = multipart_parser::boundary(type);
  if (!boundary) {
    if (is_form_data(type)) {
      res.status(400).text("multipart: the Content-Type has no valid boundary\n");
    } else {
      res.status(415).text("multipart/form-data expected\n");
    }
    return;
  }
  auto body = req.body_reader();  // throws on a route without stream_body
  auto s = std::make_shared<state>(std::move(opts));
  auto* raw = s.get();  // the parser lives in the state: its handlers cannot outlive it
  s->parser.emplace(*boundary,
                    multipart_parser::handlers{
                        .on_part = [raw](const multipart_part& head) { raw->begin(head); },
                        .on_data = [raw](std::string_view bytes) { raw->data(bytes); },
                        .on_part_end = [raw] { raw->part_end(); },
                    },
                    s->opts.limits);
  s->answer = res.defer();
  body.on_data([s](std::string_view bytes) { s->feed(bytes); });
  body.on_end([s](bool complete) { s->end(complete); });
  state_ = std::move(s);
}

void multipart_form::on_part(std::function<sink(const part&)> f) {
  if (state_) state_->choose = std::move(f);
}

void multipart_form::on_end(std::function<void(std::vector<part>&, response&)> f) {
  if (state_) state_->done = std::move(f);
}

void multipart_form::on_fail(std::function<void()> f) {
  if (state_ && !state_->over) state_->failed = std::move(f);
}

bool multipart_form::open() const { return state_ && !state_->over; }

}  // namespace hive

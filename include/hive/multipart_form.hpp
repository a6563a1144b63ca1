// hive::multipart_form — a multipart/form-data upload (an HTML form with files) read as it
// arrives: each part's data goes to a file, to your callback, or — for a small text field — into
// memory, so a 1 GiB file never sits in the worker's memory. Use it on a route added with
// route_options::stream_body; the form answers the request itself when the body is bad:
//
//   app.post("/upload", [dir](const hive::request& req, hive::response& res) {
//     hive::multipart_form form(req, res, {.limits = {.max_parts = 16}});
//     form.on_part([dir](const hive::multipart_form::part& p) {
//       if (!p.filename) return hive::multipart_form::sink::keep();       // a field: p.value
//       return hive::multipart_form::sink::file(dir + "/" + next_name());  // streamed to disk
//     });
//     form.on_end([](std::vector<hive::multipart_form::part>& parts, hive::response& res) {
//       res.status(201).text(std::to_string(parts.size()) + " parts\n");
//     });
//   }, {.max_body = 1ull << 30, .stream_body = true});
//
// Answers of its own: 415 when the request is not multipart/form-data, 400 for a bad boundary or
// a malformed body (multipart.hpp says what is refused; a body without its closing boundary
// too), 413 past a limit (parts, a part's header section, the total, a kept field's size), 500
// when a file cannot be written. Then, and when the client goes away, the files it wrote are
// removed and on_fail runs. Use it on the worker's loop whose handler made it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hive/multipart.hpp"
#include "hive/request.hpp"
#include "hive/response.hpp"

namespace hive {

class multipart_form {
 public:
  struct options {
    multipart_limits limits;
    // A part kept in memory (sink::keep) larger than this gets 413.
    std::size_t max_field_bytes = 64 * 1024;
  };

  // One part: its head when on_part sees it; its size, value or file when on_end does.
  struct part {
    std::string name;
    std::optional<std::string> filename;  // the client's file name: never use it as a path
    std::string content_type;
    std::uint64_t size = 0;   // data bytes
    std::string value;        // the data, for a part kept in memory
    std::string saved_to;     // the file, for a part saved with sink::file
  };

  // Where a part's data goes: on_part's answer.
  class sink {
   public:
    // Into part::value, up to options::max_field_bytes (the default for every part).
    static sink keep() { return sink(kind::keep); }
    // Into a new file at `path` (created with mode 0644, replaced if it exists, not through a
    // symlink); removed again if the form fails.
    static sink file(std::string path);
    // To `f`, a piece at a time (each a view valid during the call).
    static sink data(std::function<void(std::string_view)> f);
    // Nowhere.
    static sink discard() { return sink(kind::discard); }

   private:
    friend class multipart_form;
    enum class kind : std::uint8_t { keep, file, data, discard };
    explicit sink(kind k) : kind_(k) {}
    kind kind_;
    std::string path_;
    std::function<void(std::string_view)> data_;
  };

  // Starts reading req's body (req.body_reader(): throws std::logic_error on a route without
  // stream_body) and takes res's answer (res.defer()). Answers 415 or 400 at once when the
  // Content-Type is not multipart/form-data with a good boundary (open() is then false).
  multipart_form(const request& req, response& res, options opts);
  multipart_form(const request& req, response& res) : multipart_form(req, res, options{}) {}

  // Runs as each part begins; its answer says where the data goes. Unset: every part is kept.
  void on_part(std::function<sink(const part&)> f);
  // Runs once the whole form arrived, its files closed; fills the answer (unset: 204).
  void on_end(std::function<void(std::vector<part>& parts, response& res)> f);
  // Runs when the form will not end: refused (hive answered), or the client went away.
  void on_fail(std::function<void()> f);
  // True while the body is being read.
  bool open() const;

 private:
  struct state;
  std::shared_ptr<state> state_;
};

}  // namespace hive

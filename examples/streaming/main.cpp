// Bodies in motion: uploads streamed to disk, downloads sent by the kernel, server-sent events.
//
//   streaming --dir DIR --port P --workers N [--max-upload BYTES]
//   PUT  /files/:name   the body (Content-Length or chunked, up to --max-upload, default 4 GiB)
//                       streamed into DIR/name; 201 with the byte count. A name with `/`, `..`
//                       or a leading dot gets 400.
//   GET  /files/:name   the file back (sendfile, Range, ETag and the conditional requests)
//   GET  /events        an event every 100 ms: `id: N`, `data: tick N`, going on after the
//                       Last-Event-ID a reconnecting client sends
//   POST /broadcast     the body as an event to every /events client on every worker (pub/sub)
//   POST /form          a multipart/form-data upload (an HTML form with files): each file part
//                       streamed into DIR under its file name, fields kept; 201 with JSON
//                       {"fields": {name: value}, "files": [{"field", "name", "bytes"}]}
//
// Files come back as downloads (Content-Disposition: attachment, X-Content-Type-Options: nosniff):
// an uploaded .html or .svg shown inline from this origin would run its scripts here.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"  // g++ 12 and designated initializers

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <asio/steady_timer.hpp>

#include <hive/hive.hpp>
#include <hive/static_files.hpp>

namespace {

bool valid_name(std::string_view name) {
  return !name.empty() && name.front() != '.' && name.find('/') == std::string_view::npos &&
         name.find('\\') == std::string_view::npos && name.find('\0') == std::string_view::npos &&
         name.find("..") == std::string_view::npos;
}

// One upload: written to a hidden temporary file, renamed into place once the body is complete,
// removed if it never is.
struct upload {
  int fd = -1;
  std::string temp, final_path;
  std::uint64_t bytes = 0;
  bool failed = false;

  ~upload() {
    if (fd >= 0) ::close(fd);
    if (!temp.empty()) ::unlink(temp.c_str());
  }
  void write(std::string_view chunk) {
    while (!failed && !chunk.empty()) {
      const ssize_t n = ::write(fd, chunk.data(), chunk.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        failed = true;
        return;
      }
      chunk.remove_prefix(static_cast<std::size_t>(n));
      bytes += static_cast<std::uint64_t>(n);
    }
  }
  bool commit() {
    const bool ok = ::close(fd) == 0 && !failed && ::rename(temp.c_str(), final_path.c_str()) == 0;
    fd = -1;
    if (ok) temp.clear();
    return ok;
  }
};

// One /events client: a tick every 100 ms, and the broadcasts in between.
struct ticker : std::enable_shared_from_this<ticker> {
  hive::event_stream events;
  asio::steady_timer timer{hive::worker::io()};
  long next = 1;

  void tick() {
    if (!events.open()) return;
    const std::string id = std::to_string(next);
    events.send("tick " + id, {}, id);
    ++next;
    timer.expires_after(std::chrono::milliseconds(100));
    timer.async_wait([self = shared_from_this()](const std::error_code& ec) {
      if (!ec) self->tick();
    });
  }
};

// This worker's /events clients, for broadcasts.
std::set<std::shared_ptr<ticker>>& clients() {
  static std::set<std::shared_ptr<ticker>> all;
  return all;
}

void deliver(const std::string& text) {
  for (const auto& c : clients()) c->events.send(text, "broadcast");
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> rest;
  const auto opts = hive::options::from_args_known(
      argc, argv, rest, "App options:\n  --dir DIR          where files go (default .)\n"
                        "  --max-upload BYTES largest upload (default 4 GiB)\n");
  std::string dir = ".";
  std::uint64_t max_upload = 4ull << 30;
  for (std::size_t i = 0; i < rest.size(); ++i) {
    std::string flag = rest[i], value;
    if (const auto eq = flag.find('='); eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag.resize(eq);
    } else if (i + 1 < rest.size()) {
      value = rest[++i];
    }
    if (flag == "--dir") {
      dir = value;
    } else if (flag == "--max-upload") {
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), max_upload);
      if (ec != std::errc() || end != value.data() + value.size()) {
        std::fprintf(stderr, "streaming: --max-upload wants a number of bytes, not '%s'\n", value.c_str());
        return 2;
      }
    } else {
      std::fprintf(stderr, "streaming: unknown option '%s' (see --help)\n", flag.c_str());
      return 2;
    }
  }

  hive::app app;
  app.put("/files/:name", [dir](const hive::request& req, hive::response& res) {
    const auto name = *req.param("name");
    if (!valid_name(name)) return void(res.status(400).text("a file name, without '/', '..' or a leading dot\n"));
    auto up = std::make_shared<upload>();
    up->final_path = dir + "/" + std::string(name);
    static unsigned serial = 0;
    up->temp = dir + "/.upload-" + std::to_string(::getpid()) + "-" + std::to_string(++serial);
    up->fd = ::open(up->temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (up->fd < 0) {
      up->temp.clear();
      return void(res.status(500).text("cannot create the file\n"));
    }
    auto done = res.defer();
    auto body = req.body_reader();
    // Written as it arrives: the worker reads no more while this runs, so memory stays flat.
    body.on_data([up](std::string_view chunk) { up->write(chunk); });
    body.on_end([up, done](bool complete) mutable {
      if (!complete) return;  // hive answered (413, 408, 400) or the client went away
      const auto bytes = up->bytes;
      const bool ok = up->commit();
      done.finish([&](hive::response& r) {
        if (ok) {
          r.status(201).text(std::to_string(bytes) + "\n");
        } else {
          r.status(500).text("write failed\n");
        }
      });
    });
  }, {.max_body = static_cast<std::size_t>(max_upload), .stream_body = true});

  app.get("/files/:name", [dir](const hive::request& req, hive::response& res) {
    const auto name = *req.param("name");
    if (!valid_name(name)) return void(res.status(400).text("a file name, without '/', '..' or a leading dot\n"));
    // Downloaded, never rendered: anyone may upload, so a page or an image with scripts served
    // inline would be stored XSS on this origin.
    res.header("Content-Disposition", "attachment");
    res.header("X-Content-Type-Options", "nosniff");
    hive::send_file(req, res, dir + "/" + std::string(name));
  });

  app.post("/form", [dir](const hive::request& req, hive::response& res) {
    hive::multipart_form form(req, res, {.limits = {.max_parts = 64}});
    // Each file part goes to a hidden temporary file first, renamed once the whole form arrived.
    auto temps = std::make_shared<std::vector<std::string>>();
    auto bad_name = std::make_shared<bool>(false);
    form.on_part([dir, temps, bad_name](const hive::multipart_form::part& p) {
      if (!p.filename) return hive::multipart_form::sink::keep();  // a field: up to 64 KiB
      if (!valid_name(*p.filename)) {
        *bad_name = true;
        return hive::multipart_form::sink::discard();
      }
      static unsigned serial = 0;
      temps->push_back(dir + "/.form-" + std::to_string(::getpid()) + "-" + std::to_string(++serial));
      return hive::multipart_form::sink::file(temps->back());
    });
    form.on_end([dir, bad_name](std::vector<hive::multipart_form::part>& parts, hive::response& r) {
      if (*bad_name) {
        for (const auto& p : parts) {
          if (!p.saved_to.empty()) ::unlink(p.saved_to.c_str());
        }
        return void(r.status(400).text("a file name, without '/', '..' or a leading dot\n"));
      }
      nlohmann::json fields = nlohmann::json::object(), files = nlohmann::json::array();
      for (const auto& p : parts) {
        if (!p.filename) {
          fields[p.name] = p.value;
          continue;
        }
        if (::rename(p.saved_to.c_str(), (dir + "/" + *p.filename).c_str()) != 0) {
          return void(r.status(500).text("cannot store the upload\n"));
        }
        files.push_back({{"field", p.name}, {"name", *p.filename}, {"bytes", p.size}});
      }
      r.status(201).json({{"fields", fields}, {"files", files}});
    });
  }, {.max_body = static_cast<std::size_t>(max_upload), .stream_body = true});

  app.get("/events", [](const hive::request& req, hive::response& res) {
    auto t = std::make_shared<ticker>();
    if (auto last = hive::event_stream::last_event_id(req)) {
      long seen = 0;
      std::from_chars(last->data(), last->data() + last->size(), seen);
      t->next = seen + 1;
    }
    t->events = hive::event_stream(res, {.heartbeat = std::chrono::seconds(15), .retry = std::chrono::seconds(1)});
    clients().insert(t);
    t->events.on_close([weak = std::weak_ptr<ticker>(t)] {
      if (auto s = weak.lock()) {
        s->timer.cancel();
        clients().erase(s);
      }
    });
    t->tick();
  });

  app.post("/broadcast", [](const hive::request& req, hive::response& res) {
    const std::string text(req.body());
    // Every worker's clients hear it through pub/sub (this one's too); in one process, directly.
    if (!hive::worker::publish("broadcast", text)) deliver(text);
    res.status(202).text("sent\n");
  });

  hive::cluster cluster(app, opts);
  cluster.on_worker_start([] {
    hive::worker::subscribe("broadcast", [](const nlohmann::json& msg) {
      if (msg.is_string()) deliver(msg.get<std::string>());
    });
  });
  return cluster.run();
}

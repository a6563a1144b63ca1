// A small JSON service with what a real one needs: bearer-token auth (refused at the head, before
// an upload is read), CORS for a browser front end, JSON errors for every error (hive's own 404
// and 405 included), an access log, a rate limit the whole cluster shares, and notes kept in a
// hive::shared_dict, so every worker sees them and a reload (SIGHUP) keeps them.
//
//   examples/notes-api --port 8000 --workers 2 --token s3cret --access-log combined --rate-limit 100/s
//   curl localhost:8000/healthz
//   curl -H 'Authorization: Bearer s3cret' -H 'Content-Type: application/json' -d '{"text":"milk"}'  localhost:8000/api/notes
//   curl -H 'Authorization: Bearer s3cret' localhost:8000/api/notes/1
//
// App flags (after hive's, see --help): --token SECRET (or NOTES_TOKEN), --cors-origin ORIGIN
// (default https://app.example; repeatable).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <hive/hive.hpp>

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"  // g++ 12 and designated initializers

namespace {

struct notes_flags {
  std::string token;
  std::vector<std::string> origins;
};

notes_flags parse_app_flags(const std::vector<std::string>& rest) {
  notes_flags f;
  if (const char* t = std::getenv("NOTES_TOKEN")) f.token = t;
  for (std::size_t i = 0; i < rest.size(); ++i) {
    std::string name = rest[i], value;
    if (const auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    } else if (i + 1 < rest.size()) {
      value = rest[++i];
    } else {
      std::fprintf(stderr, "notes-api: %s needs a value\n", name.c_str());
      std::exit(2);
    }
    if (name == "--token") {
      f.token = value;
    } else if (name == "--cors-origin") {
      f.origins.push_back(value);
    } else {
      std::fprintf(stderr, "notes-api: unknown option %s; see --help\n", name.c_str());
      std::exit(2);
    }
  }
  if (f.token.empty()) {
    std::fprintf(stderr, "notes-api: a token is required: --token SECRET or NOTES_TOKEN\n");
    std::exit(2);
  }
  if (f.origins.empty()) f.origins.push_back("https://app.example");
  return f;
}

// Refuses a request without the token at its head: an upload is never read, and a client that
// sent `Expect: 100-continue` gets the 401 instead of `100 Continue`. CORS preflights carry no
// credentials by design: they pass (the CORS filter answers them).
hive::filter bearer_auth(std::string token) {
  return {.before = [expected = "Bearer " + token](const hive::request& req, hive::response& res) {
            if (req.method() == "OPTIONS" && req.header("Access-Control-Request-Method")) return hive::filter_result::next;
            if (req.header("Authorization") == expected) return hive::filter_result::next;
            res.status(401).header("WWW-Authenticate", "Bearer").json({{"error", "missing or wrong bearer token"}, {"status", 401}});
            return hive::filter_result::answered;
          },
          .at_head = true};
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> rest;
  const auto opts = hive::options::from_args_known(
      argc, argv, rest, "App options:\n  --token SECRET        bearer token (or NOTES_TOKEN)\n"
                        "  --cors-origin ORIGIN  an origin allowed by CORS (default https://app.example)\n");
  const notes_flags flags = parse_app_flags(rest);

  // Mapped here, before the workers fork: the notes and the rate-limit counters belong to the
  // primary, so every worker shares them and they outlive restarts and reloads.
  hive::shared_dict notes("notes", 16 << 20);
  std::unique_ptr<hive::filters::rate_limit> limit;
  if (!opts.rate_limit.empty()) {
    limit = std::make_unique<hive::filters::rate_limit>(hive::filters::rate_limit_options::parse(opts.rate_limit));
  }

  hive::app app;
  if (limit) app.use(limit->filter());
  app.use(hive::filters::request_id());
  app.on_error([](int status, std::string_view message, hive::response& res) {
    res.json({{"error", message}, {"status", status}});
  });
  app.get("/healthz", [](const hive::request&, hive::response& res) {
    res.json({{"status", "ok"}, {"pid", ::getpid()}, {"slot", hive::worker::slot()}});
  });

  auto api = app.group("/api");
  api.use(hive::filters::cors({.origins = flags.origins,
                               .headers = {"Authorization", "Content-Type"},
                               .expose_headers = {"X-Request-Id"}}));
  api.use(bearer_auth(flags.token));
  api.post("/notes", [&](const hive::request& req, hive::response& res) {
    const auto body = req.json();  // 400 with a JSON error if it is not JSON
    if (!body.is_object() || !body.contains("text") || !body["text"].is_string()) {
      throw hive::http_error(400, "expected {\"text\": \"...\"}");
    }
    const auto id = notes.incr("next-id", 1);
    if (!id) throw hive::http_error(503, "notes unavailable");
    const nlohmann::json note = {{"id", id.value}, {"text", body["text"]}};
    if (notes.set("note:" + std::to_string(id.value), note.dump()) != hive::dict_status::ok) {
      throw hive::http_error(507, "no room for more notes");
    }
    res.status(201).header("Location", "/api/notes/" + std::to_string(id.value)).json(note);
  }, {.max_body = 16 * 1024});
  api.get("/notes/:id", [&](const hive::request& req, hive::response& res) {
    const auto note = notes.get("note:" + std::string(*req.param("id")));
    if (!note) throw hive::http_error(404, "no such note");
    res.body(*note, "application/json");
  });
  return hive::run(app, opts);
}

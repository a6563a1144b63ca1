// A small JSON API: an in-memory list of notes with create, read, update, delete.
// Shows route parameters, query parameters, request bodies and status codes, and answers
// compressed (zstd, br or gzip, as the client asks) once a list grows past 1 KiB.
//   curl -X POST localhost:8000/notes -d '{"text":"hi"}'
//   curl localhost:8000/notes?limit=10
//   curl --compressed -v localhost:8000/notes     # Content-Encoding: gzip (or br, zstd)
#include <map>
#include <string>

#include <hive/hive.hpp>

namespace {

// One process (hive::serve) owns the notes. Under hive::run every worker would have its own
// copy: a clustered service keeps shared state in a database.
std::map<long, std::string> notes;
long next_id = 1;

bool parse_note(const hive::request& req, hive::response& res, std::string& text) {
  const auto body = nlohmann::json::parse(req.body(), nullptr, /*allow_exceptions=*/false);
  if (!body.is_object() || !body.contains("text") || !body["text"].is_string()) {
    res.status(400).json({{"error", "expected a JSON object with a string \"text\""}});
    return false;
  }
  text = body["text"].get<std::string>();
  return true;
}

long parse_id(std::string_view s) {
  long id = 0;
  for (char c : s) {
    if (c < '0' || c > '9' || id > 1'000'000'000) return -1;
    id = id * 10 + (c - '0');
  }
  return s.empty() ? -1 : id;
}

}  // namespace

int main(int argc, char** argv) {
  hive::app app;
  // Bodies of 1 KiB or more, of JSON and text types; levels, types and codings are options.
  app.use(hive::filters::compress());
  app.get("/notes", [](const hive::request& req, hive::response& res) {
    const long limit = parse_id(req.query("limit").value_or("100"));
    auto list = nlohmann::json::array();
    for (const auto& [id, text] : notes) {
      if (limit >= 0 && static_cast<long>(list.size()) >= limit) break;
      list.push_back({{"id", id}, {"text", text}});
    }
    res.json(list);
  });
  app.post("/notes", [](const hive::request& req, hive::response& res) {
    std::string text;
    if (!parse_note(req, res, text)) return;
    const long id = next_id++;
    notes[id] = text;
    res.status(201).header("Location", "/notes/" + std::to_string(id)).json({{"id", id}, {"text", text}});
  });
  app.get("/notes/:id", [](const hive::request& req, hive::response& res) {
    const auto it = notes.find(parse_id(*req.param("id")));
    if (it == notes.end()) return res.status(404).json({{"error", "no such note"}});
    res.json({{"id", it->first}, {"text", it->second}});
  });
  app.put("/notes/:id", [](const hive::request& req, hive::response& res) {
    const auto it = notes.find(parse_id(*req.param("id")));
    if (it == notes.end()) return res.status(404).json({{"error", "no such note"}});
    std::string text;
    if (!parse_note(req, res, text)) return;
    it->second = text;
    res.json({{"id", it->first}, {"text", it->second}});
  });
  app.del("/notes/:id", [](const hive::request& req, hive::response& res) {
    if (notes.erase(parse_id(*req.param("id"))) == 0) return res.status(404).json({{"error", "no such note"}});
    res.status(204);
  });
  return hive::serve(app, hive::options::from_args(argc, argv));
}

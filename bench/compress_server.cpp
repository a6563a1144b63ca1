// The hive side of bench/compress.py: every file of --root is read into memory at start and
// served as a dynamic body (GET /NAME, by reference: no copy), through hive::filters::compress
// with gzip only at --level, so that the cost measured is the coding's and not the disk's.
//   compress_server --root DIR --level N --port P --workers 0
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <hive/hive.hpp>

int main(int argc, char** argv) {
  std::vector<std::string> rest;
  const auto opts = hive::options::from_args_known(
      argc, argv, rest, "App options:\n  --root DIR   files to serve\n  --level N    gzip level (default 6)\n");
  std::string root = ".";
  int level = 6;
  for (std::size_t i = 0; i + 1 < rest.size(); i += 2) {
    if (rest[i] == "--root") root = rest[i + 1];
    else if (rest[i] == "--level") level = std::stoi(rest[i + 1]);
    else return std::fprintf(stderr, "compress_server: unknown option '%s'\n", rest[i].c_str()), 2;
  }
  auto files = std::make_shared<std::map<std::string, std::string>>();
  for (const auto& e : std::filesystem::directory_iterator(root)) {
    std::ifstream in(e.path(), std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    (*files)["/" + e.path().filename().string()] = s.str();
  }
  hive::app app;
  app.use(hive::filters::compress({.codings = {"gzip"}, .gzip_level = level}));
  app.get("/*", [files](const hive::request& req, hive::response& res) {
    const auto it = files->find(std::string(req.path()));
    if (it == files->end()) return res.status(404).text("no such file\n");
    const std::string_view type = it->first.ends_with(".json") ? "application/json" : "text/plain";
    res.body_ref(it->second, files, type);
  });
  return hive::run(app, opts);
}

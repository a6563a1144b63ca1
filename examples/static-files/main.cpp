// Serves a directory: `static-files --root DIR --port P` (sendfile, ETag and Last-Modified with
// 304/412, ranges, precompressed .br/.zst/.gz siblings, index.html, nothing outside DIR).
#include <cstdio>
#include <string>
#include <vector>

#include <hive/hive.hpp>

int main(int argc, char** argv) {
  std::vector<std::string> rest;
  const auto opts = hive::options::from_args_known(
      argc, argv, rest, "App options:\n  --root DIR   the directory to serve (default .)\n");
  std::string root = ".";
  for (std::size_t i = 0; i < rest.size(); ++i) {
    if (rest[i] == "--root" && i + 1 < rest.size()) {
      root = rest[++i];
    } else if (rest[i].starts_with("--root=")) {
      root = rest[i].substr(7);
    } else {
      std::fprintf(stderr, "static-files: unknown option '%s' (see --help)\n", rest[i].c_str());
      return 2;
    }
  }
  hive::app app;
  app.static_files("/", root, {.cache_control = "public, max-age=60"});
  return hive::run(app, opts);
}

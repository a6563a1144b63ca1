// Static files: a directory served under a path prefix, or one file sent from a handler, the way
// a file server should — by the kernel (sendfile), with validators and conditional requests
// (RFC 9110 §13), ranges (§14), precompressed siblings and no way out of the root.
//
//   app.static_files("/assets", "./public", {.cache_control = "public, max-age=3600"});
//   app.get("/report", [](const hive::request& req, hive::response& res) {
//     hive::send_file(req, res, "/var/reports/latest.pdf");
//   });
//
// What it answers: 200 with the file (HEAD: the same head, nothing read); 304 when If-None-Match
// or If-Modified-Since says the client has it; 412 when If-Match or If-Unmodified-Since fails;
// 206 for one satisfiable range (`bytes=a-b`, `a-`, `-n`), 416 with `Content-Range: bytes */size`
// for an unsatisfiable one. A request for several ranges gets the whole file (200): RFC 9110
// §14.2 lets a server ignore Range, browsers and download tools ask for one range at a time, and
// multipart/byteranges would cost a second framing path for no client we know of. A malformed
// Range is ignored (200), as §14.2 says. Directories are served by their index.html (`/dir`
// redirects to `/dir/`), never listed; a path with a segment starting with '.', a `..` however
// encoded, an encoded '/', a backslash or NUL, or a symlink leading outside the root gets 404
// (openat2 with RESOLVE_BENEATH where the kernel has it).
#pragma once

#include <chrono>
#include <string>

#include "hive/request.hpp"
#include "hive/response.hpp"

namespace hive {

struct static_options {
  // Cache-Control for every file of the mount; empty: none.
  std::string cache_control;
  // Served for a request that names a directory (ending in '/'); empty: directories are 404.
  std::string index = "index.html";
  // Serve `name.br`, `name.zst` or `name.gz` beside `name` to a client that accepts that coding
  // (Vary: Accept-Encoding is sent either way).
  bool precompressed = true;
  // How long an open descriptor and its stat result are reused: a hot file costs no open or fstat
  // per request, and a file replaced on disk is seen within this time. Zero: no cache.
  std::chrono::milliseconds cache_for{1000};
};

// Sends the file at `path` (absolute or relative to the working directory) with validators,
// conditionals and ranges as above; 404 when it is not a readable regular file. No traversal
// checks: `path` is trusted (static_files checks what a client sends).
void send_file(const request& req, response& res, const std::string& path, const static_options& o = {});

}  // namespace hive

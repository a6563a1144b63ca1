// hive::filters::compress — content coding of dynamic responses: zstd, brotli or gzip, whichever
// the client's Accept-Encoding prefers (q-values; ties go to the order of `codings`), for bodies
// of a compressible type and at least `min_bytes`, and for streamed bodies (hive::stream,
// hive::event_stream) as they are written: each write is flushed, so an event is never held back.
//
//   app.use(hive::filters::compress());                        // zstd, br, gzip at their defaults
//   app.group("/api").use(hive::filters::compress({.gzip_level = 1}));
//
// It adds `Vary: Accept-Encoding` to every answer it could have coded, and turns a strong ETag
// weak (RFC 9110 §8.8.3: the coded bytes are another representation's). It never codes: HEAD,
// 204, 206, 304, an answer that has a Content-Encoding already, or a file body (sendfile:
// app.static_files sends precompressed .br/.zst/.gz siblings instead). A coding whose library
// was not found when hive was built is left out (hive::filters::compress_codings() lists what
// is there); with none, the filter changes nothing.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "hive/filter.hpp"

namespace hive::filters {

struct compress_options {
  // Codings to offer, best first (used when the client likes several equally): "zstd", "br",
  // "gzip". Ones this build lacks are skipped.
  std::vector<std::string> codings = {"zstd", "br", "gzip"};
  // Smaller bodies go out as they are: below about a packet, coding saves nothing worth its CPU.
  // (Streamed bodies have no size: they are coded when their type is.)
  std::size_t min_bytes = 1024;
  // Media types worth coding: "type/subtype", "type/*" or "type/*+suffix" (case-insensitive;
  // parameters such as charset are ignored). Images, audio, video and archives are compressed
  // already.
  std::vector<std::string> types = {
      "text/*",          "application/json",       "application/*+json", "application/x-ndjson",
      "application/javascript", "application/ecmascript", "application/xml", "application/*+xml",
      "image/svg+xml",   "application/wasm",       "font/ttf",           "font/otf"};
  // Levels: higher packs tighter and costs more CPU per byte, on every response.
  int gzip_level = 6;      // 1..9 (zlib's default)
  int brotli_quality = 4;  // 0..11 (11 is for precompressing, far too slow per request)
  int zstd_level = 3;      // 1..19 (zstd's default)
  // Codings for streamed bodies, best first: a stream's coder lives as long as the stream, so
  // memory per open stream counts. Measured at the default window (12) and levels: gzip 40 KiB,
  // zstd 86 KiB; brotli keeps over 300 KiB whatever the window, so it is left out by default.
  std::vector<std::string> stream_codings = {"zstd", "gzip"};
  // log2 of the history a streamed body's coder keeps, 10..15 (gzip's maximum): repeats further
  // back than this are not found. gzip at 15 holds 264 KiB per stream, zstd 500 KiB.
  int stream_window_log = 12;
};

// Throws std::invalid_argument for an unknown coding, a level out of range, or a media type
// pattern that is not `type/subtype`, `type/*` or `type/*+suffix`.
filter compress(compress_options o = {});

// The codings this build of hive can produce ("zstd", "br", "gzip"), best first.
std::vector<std::string_view> compress_codings();

}  // namespace hive::filters

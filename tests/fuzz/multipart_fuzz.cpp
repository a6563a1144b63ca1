// libFuzzer target over hive::multipart_parser: arbitrary bodies in arbitrary splits.
//
// Input layout: byte 0 = split count (low 3 bits) | 0x08 small limits; then 2 bytes per split
// point; the rest is the body, parsed with the boundary "b0undary". The same bytes also go to
// multipart_parser::boundary() as a Content-Type.
//
// Invariants: the parse in pieces reports exactly what the parse in one piece reports (the same
// parts, data, ends, outcome and error), and so does a parse a byte at a time (small inputs);
// parts open and close in turn, never more than max_parts; no part's data holds the delimiter;
// a boundary() result is 1–70 bchars not ending in a space.
//
//   build-san/tests/fuzz/multipart_fuzz -max_total_time=60 -dict=tests/fuzz/multipart.dict CORPUS
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <hive/multipart.hpp>

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

struct outcome {
  std::string log;
  bool finished = false;
  hive::multipart_error error = hive::multipart_error::none;
};

outcome parse(std::string_view body, const std::vector<std::size_t>& cuts, const hive::multipart_limits& limits) {
  outcome o;
  bool in_part = false;
  std::size_t parts = 0;
  std::string data;  // the current part's, to look for the delimiter in
  hive::multipart_parser p("b0undary",
                           {
                               .on_part =
                                   [&](const hive::multipart_part& h) {
                                     require(!in_part);
                                     in_part = true;
                                     ++parts;
                                     require(parts <= limits.max_parts);
                                     o.log += "[" + h.name + "|" + h.filename.value_or("\x01") + "|" + h.content_type + "|";
                                     for (const auto& [k, v] : h.headers) o.log += k + ":" + v + "|";
                                     o.log += "]";
                                     data.clear();
                                   },
                               .on_data =
                                   [&](std::string_view d) {
                                     require(in_part && !d.empty());
                                     data.append(d);
                                     o.log.append(d);
                                   },
                               .on_part_end =
                                   [&] {
                                     require(in_part);
                                     in_part = false;
                                     require(data.find("\r\n--b0undary") == std::string::npos);
                                     o.log += ";";
                                   },
                           },
                           limits);
  std::size_t at = 0;
  bool fed = true;
  for (const std::size_t c : cuts) {
    fed = p.feed(body.substr(at, c - at)) && fed;
    at = c;
  }
  fed = p.feed(body.substr(at)) && fed;
  o.finished = p.finish();
  o.error = p.error();
  require(o.finished == (o.error == hive::multipart_error::none));
  require(!o.finished || !in_part);
  require(fed || !o.finished);
  return o;
}

void check_boundary(std::string_view content_type) {
  const auto b = hive::multipart_parser::boundary(content_type);
  if (!b) return;
  require(!b->empty() && b->size() <= 70 && b->back() != ' ');
  for (const char c : *b) {
    const bool ok = (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
                    std::string_view("'()+_,-./:=? ").find(c) != std::string_view::npos;
    require(ok);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t flags = data[0];
  std::size_t at = 1;
  const std::size_t splits = flags & 0x07;
  std::vector<std::size_t> raw;
  for (std::size_t i = 0; i < splits && at + 1 < size; ++i, at += 2) {
    raw.push_back(static_cast<std::size_t>(data[at]) << 8 | data[at + 1]);
  }
  const std::string_view body(reinterpret_cast<const char*>(data) + at, size - at);
  check_boundary(body);
  std::vector<std::size_t> cuts;
  for (const std::size_t r : raw) cuts.push_back(body.empty() ? 0 : r % (body.size() + 1));
  std::sort(cuts.begin(), cuts.end());

  hive::multipart_limits limits;
  if (flags & 0x08) limits = {.max_parts = 3, .max_part_header_bytes = 64, .max_total_bytes = 2048};
  const auto whole = parse(body, {}, limits);
  const auto pieces = parse(body, cuts, limits);
  require(pieces.log == whole.log && pieces.finished == whole.finished && pieces.error == whole.error);
  if (body.size() <= 512) {
    std::vector<std::size_t> every;
    for (std::size_t i = 1; i < body.size(); ++i) every.push_back(i);
    const auto bytewise = parse(body, every, limits);
    require(bytewise.log == whole.log && bytewise.finished == whole.finished && bytewise.error == whole.error);
  }
  return 0;
}

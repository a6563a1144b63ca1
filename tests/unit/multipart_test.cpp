// hive::multipart_parser without sockets: boundaries, headers, limits and every way to split a
// body into pieces.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <hive/multipart.hpp>

namespace {

// What the parser reported, as text: `[name|filename|type]` for a part, its data (pieces
// joined), `;` at its end.
struct mp_record {
  std::string log;
  std::vector<hive::multipart_part> heads;
  std::size_t data_calls = 0;

  hive::multipart_parser::handlers handlers() {
    return {
        .on_part =
            [this](const hive::multipart_part& p) {
              heads.push_back(p);
              log += "[" + p.name + "|" + p.filename.value_or("-") + "|" + p.content_type + "]";
            },
        .on_data =
            [this](std::string_view d) {
              CHECK(!d.empty());
              ++data_calls;
              log.append(d);
            },
        .on_part_end = [this] { log += ";"; },
    };
  }
};

struct mp_outcome {
  std::string log;
  bool fed = false, finished = false;
  hive::multipart_error error = hive::multipart_error::none;
};

// Parses `body` cut at `cuts` (increasing offsets).
mp_outcome mp_parse(std::string_view body, const std::vector<std::size_t>& cuts = {},
                    hive::multipart_limits limits = {}, std::string_view boundary = "XyZ") {
  mp_record r;
  hive::multipart_parser p(boundary, r.handlers(), limits);
  mp_outcome o;
  o.fed = true;
  std::size_t at = 0;
  for (const std::size_t c : cuts) {
    o.fed = p.feed(body.substr(at, c - at)) && o.fed;
    at = c;
  }
  o.fed = p.feed(body.substr(at)) && o.fed;
  o.finished = p.finish();
  o.error = p.error();
  o.log = r.log;
  return o;
}

}  // namespace

TEST_CASE("multipart: the boundary of a multipart/form-data Content-Type") {
  using hive::multipart_parser;
  CHECK(multipart_parser::boundary("multipart/form-data; boundary=abc") == "abc");
  CHECK(multipart_parser::boundary("Multipart/Form-Data;BOUNDARY=abc") == "abc");
  CHECK(multipart_parser::boundary("multipart/form-data; charset=utf-8; boundary=\"a b'()+_,-./:=?\"") == "a b'()+_,-./:=?");
  CHECK(multipart_parser::boundary("multipart/form-data; boundary=" + std::string(70, 'x')) == std::string(70, 'x'));
  CHECK(!multipart_parser::boundary("multipart/form-data; boundary=" + std::string(71, 'x')));
  CHECK(!multipart_parser::boundary("multipart/form-data"));
  CHECK(!multipart_parser::boundary("multipart/form-data; boundary="));
  CHECK(!multipart_parser::boundary("multipart/form-data; boundary=\"\""));
  CHECK(!multipart_parser::boundary("multipart/form-data; boundary=\"ends in space \""));
  CHECK(!multipart_parser::boundary("multipart/form-data; boundary=\"a\\\"b\""));  // `"` is no bchar
  CHECK(!multipart_parser::boundary("multipart/form-data; boundary=a; boundary=b"));
  CHECK(!multipart_parser::boundary("multipart/mixed; boundary=abc"));
  CHECK(!multipart_parser::boundary("text/plain; boundary=abc"));
  CHECK(!multipart_parser::boundary("multipart/form-data; boundary=a{b"));
}

TEST_CASE("multipart: parts, headers and data; preamble, padding and epilogue ignored") {
  const std::string body =
      "preamble\r\n"
      "--XyZ\r\n"
      "Content-Disposition: form-data; name=\"title\"\r\n"
      "\r\n"
      "Hello\r\n"
      "--XyZ \t \r\n"
      "content-disposition: FORM-DATA; name=file; filename=\"C:\\dir\\a %22b%22.txt\"\r\n"
      "Content-Type: image/png\r\n"
      "X-Other:  kept  \r\n"
      "\r\n"
      "\r\n--Xy\r\r\n-\r\n\r\n--X\r"
      "\r\n--XyZ\r\n"
      "Content-Disposition: form-data; name=\"\"; filename*=UTF-8''%E2%82%AC.txt; filename=\"euro.txt\"\r\n"
      "\r\n"
      "\r\n--XyZ--\r\n"
      "epilogue\r\n--XyZ\r\ngarbage";
  mp_record r;
  hive::multipart_parser p("XyZ", r.handlers());
  CHECK(p.feed(body));
  CHECK(p.done());
  CHECK(p.finish());
  CHECK(p.parts() == 3);
  CHECK(r.log ==
        "[title|-|text/plain]Hello;"
        "[file|C:\\dir\\a \"b\".txt|image/png]\r\n--Xy\r\r\n-\r\n\r\n--X\r;"
        "[|\xE2\x82\xAC.txt|text/plain];");
  REQUIRE(r.heads.size() == 3);
  REQUIRE(r.heads[1].headers.size() == 3);
  CHECK(r.heads[1].headers[0].first == "content-disposition");
  CHECK(r.heads[1].headers[2] == std::pair<std::string, std::string>("x-other", "kept"));
}

TEST_CASE("multipart: the body split at every byte, and a byte at a time, parses the same") {
  const std::string body =
      "--XyZ\r\n"
      "Content-Disposition: form-data; name=\"a\"\r\n"
      "\r\n"
      "one\r\n--XyZ\r\n"
      "Content-Disposition: form-data; name=\"b\"; filename=\"f\"\r\n"
      "\r\n"
      "\r\r\n\r\n-\r\n--\r\n--X\r\n--Xy\r\n--XyZ\r\n"
      "Content-Disposition: form-data; name=\"c\"\r\n"
      "\r\n"
      "\r\n--XyZ--";
  const auto whole = mp_parse(body);
  REQUIRE(whole.finished);
  CHECK(whole.log == "[a|-|text/plain]one;[b|f|text/plain]\r\r\n\r\n-\r\n--\r\n--X\r\n--Xy;[c|-|text/plain];");
  for (std::size_t cut = 0; cut <= body.size(); ++cut) {
    const auto o = mp_parse(body, {cut});
    CHECK_MESSAGE(o.finished, "cut at ", cut);
    CHECK_MESSAGE(o.log == whole.log, "cut at ", cut);
  }
  // Two cuts: every pair of positions, so a delimiter is also split in three.
  for (std::size_t a = 0; a <= body.size(); a += 1) {
    for (std::size_t b = a; b <= body.size(); b += 7) {
      const auto o = mp_parse(body, {a, b});
      if (!o.finished || o.log != whole.log) {
        FAIL("cuts at " << a << " and " << b);
      }
    }
  }
  std::vector<std::size_t> every;
  for (std::size_t i = 1; i < body.size(); ++i) every.push_back(i);
  const auto bytewise = mp_parse(body, every);
  CHECK(bytewise.finished);
  CHECK(bytewise.log == whole.log);
}

TEST_CASE("multipart: a body that ends before its close delimiter is refused") {
  const std::string head = "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\ndata";
  for (const std::string& body : {std::string(), std::string("just a preamble"), head, head + "\r\n--XyZ",
                                 head + "\r\n--XyZ\r\n", head + "\r\n--XyZ-", head + "\r\n--Xy",
                                 std::string("--XyZ\r\nContent-Disposition: form-da")}) {
    const auto o = mp_parse(body);
    CHECK_MESSAGE(o.fed, body);
    CHECK_MESSAGE(!o.finished, body);
    CHECK(o.error == hive::multipart_error::unfinished);
  }
  CHECK(std::string(hive::describe(hive::multipart_error::unfinished)).find("last boundary") != std::string::npos);
}

TEST_CASE("multipart: malformed boundary lines and part headers are refused") {
  using e = hive::multipart_error;
  const std::string cd = "Content-Disposition: form-data; name=\"a\"\r\n";
  const std::vector<std::pair<std::string, hive::multipart_error>> cases = {
      {"--XyZX\r\n" + cd + "\r\n\r\n--XyZ--", e::malformed},          // text after the boundary
      {"--XyZ\n" + cd + "\r\n\r\n--XyZ--", e::malformed},             // bare LF after it
      {"--XyZ \tx\r\n" + cd + "\r\n\r\n--XyZ--", e::malformed},       // padding, then text
      {"--XyZ-x", e::malformed},                                      // half a close delimiter
      {"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\n\r\n\r\n--XyZ--", e::malformed},  // bare LF
      {"--XyZ\r\n" + cd + " folded\r\n\r\n\r\n--XyZ--", e::malformed},  // obs-fold
      {"--XyZ\r\nno colon\r\n" + cd + "\r\n\r\n--XyZ--", e::malformed},
      {"--XyZ\r\nBad Name: x\r\n" + cd + "\r\n\r\n--XyZ--", e::malformed},
      {"--XyZ\r\nX: a\rb\r\n" + cd + "\r\n\r\n--XyZ--", e::malformed},  // a bare CR in a value
      {std::string("--XyZ\r\nX: a\0b\r\n", 15) + cd + "\r\n\r\n--XyZ--", e::malformed},
      {"--XyZ\r\n\r\ndata\r\n--XyZ--", e::no_disposition},            // no header at all
      {"--XyZ\r\nContent-Type: text/plain\r\n\r\n\r\n--XyZ--", e::no_disposition},
      {"--XyZ\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\n\r\n--XyZ--", e::no_disposition},
      {"--XyZ\r\nContent-Disposition: form-data\r\n\r\n\r\n--XyZ--", e::no_disposition},
      {"--XyZ\r\n" + cd + cd + "\r\n\r\n--XyZ--", e::no_disposition},  // two of them
      {"--XyZ\r\nContent-Disposition: form-data; name=a; name=b\r\n\r\n\r\n--XyZ--", e::malformed},
      {"--XyZ\r\nContent-Disposition: form-data; name=\"a\r\n\r\n\r\n--XyZ--", e::malformed},  // unclosed quote
      {"--XyZ\r\nContent-Disposition: form-data; name=\"a\"; filename*=x\r\n\r\n\r\n--XyZ--", e::malformed},
      {"--XyZ\r\nContent-Disposition: form-data; name=\"a\"; filename*=UTF-8''%zz\r\n\r\n\r\n--XyZ--", e::malformed},
      {"--XyZ\r\n" + cd + "Content-Type: a/b\r\nContent-Type: c/d\r\n\r\n\r\n--XyZ--", e::malformed},
  };
  for (const auto& c : cases) {
    const auto o = mp_parse(c.first);
    CHECK_MESSAGE(!o.fed, c.first);
    CHECK_MESSAGE(o.error == c.second, c.first);
    CHECK(!o.finished);
  }
}

TEST_CASE("multipart: huge part headers, too many parts and too large a body are refused") {
  using e = hive::multipart_error;
  const hive::multipart_limits small{.max_parts = 3, .max_part_header_bytes = 100, .max_total_bytes = 1000};
  const std::string cd = "Content-Disposition: form-data; name=\"a\"\r\n";  // 44 bytes
  const auto with_header = [&](std::size_t header_bytes) {
    // One X field making the section exactly header_bytes long.
    const std::string x = "X: " + std::string(header_bytes - cd.size() - 5, 'h') + "\r\n";
    return "--XyZ\r\n" + cd + x + "\r\nv\r\n--XyZ--";
  };
  CHECK(mp_parse(with_header(100), {}, small).finished);
  auto o = mp_parse(with_header(101), {}, small);
  CHECK(o.error == e::header_too_large);
  // A header section that never ends is refused once past the limit, not held.
  std::string endless = "--XyZ\r\n" + cd;
  for (int i = 0; i < 1000; ++i) endless += "X: y\r\n";
  o = mp_parse(endless, {}, {.max_part_header_bytes = 100});
  CHECK(o.error == e::header_too_large);
  // Each byte a piece of its own: the same.
  std::vector<std::size_t> every;
  for (std::size_t i = 1; i < 400; ++i) every.push_back(i);
  CHECK(mp_parse(endless.substr(0, 400), every, {.max_part_header_bytes = 100}).error == e::header_too_large);
  // Endless padding after a boundary is refused too.
  CHECK(mp_parse("--XyZ" + std::string(5000, ' '), {}, {.max_part_header_bytes = 100}).error == e::header_too_large);

  std::string parts;
  for (int i = 0; i < 3; ++i) parts += "--XyZ\r\n" + cd + "\r\n\r\n";
  CHECK(mp_parse(parts + "--XyZ--", {}, small).finished);
  o = mp_parse(parts + "--XyZ\r\n" + cd + "\r\n\r\n--XyZ--", {}, small);
  CHECK(o.error == e::too_many_parts);

  CHECK(mp_parse(std::string(999, 'p') + "\r\n--XyZ--", {}, {.max_total_bytes = 1008}).finished);
  o = mp_parse(std::string(999, 'p') + "\r\n--XyZ--", {}, {.max_total_bytes = 1007});
  CHECK(o.error == e::too_large);
  // A body over the limit with an error inside the limit fails with that error, whether it comes
  // whole or in pieces (found by the fuzzer: whole, it used to fail as too_large before parsing).
  const std::string bad_head = with_header(101) + std::string(2000, 'e');
  CHECK(mp_parse(bad_head, {}, small).error == e::header_too_large);
  CHECK(mp_parse(bad_head, {150, 900}, small).error == e::header_too_large);
  // And an epilogue past the limit is refused the same way either way.
  const std::string long_tail = "--XyZ\r\n" + cd + "\r\nv\r\n--XyZ--" + std::string(2000, 'e');
  CHECK(mp_parse(long_tail, {}, small).error == e::too_large);
  CHECK(mp_parse(long_tail, {70, 80}, small).error == e::too_large);
}

TEST_CASE("multipart: a refused body ignores what follows; data goes out in few pieces") {
  mp_record r;
  hive::multipart_parser p("XyZ", r.handlers());
  CHECK(!p.feed("--XyZ?"));
  CHECK(!p.feed("--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n"));
  CHECK(r.log.empty());
  CHECK(!p.finish());
  CHECK(p.error() == hive::multipart_error::malformed);

  // A megabyte of data with no CR arrives as one piece per feed.
  mp_record big;
  hive::multipart_parser q("XyZ", big.handlers());
  CHECK(q.feed("--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n"));
  const std::string mb(1 << 20, 'd');
  CHECK(q.feed(mb));
  CHECK(q.feed(mb));
  CHECK(q.feed("\r\n--XyZ--"));
  CHECK(q.finish());
  CHECK(big.data_calls == 2);
}

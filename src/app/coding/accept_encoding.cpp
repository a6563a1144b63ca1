#include "app/coding/accept_encoding.hpp"

#include <iterator>

#include "util/text.hpp"

namespace hive::detail {

namespace {

// A qvalue (RFC 9110 §12.4.2) in thousandths: "0" ["." 0*3DIGIT] / "1" ["." 0*3("0")]; -1 if
// malformed.
int parse_weight(std::string_view v) {
  if (v.empty() || (v[0] != '0' && v[0] != '1')) return -1;
  int w = (v[0] - '0') * 1000;
  if (v.size() == 1) return w;
  if (v[1] != '.' || v.size() > 5) return -1;
  int scale = 100;
  for (char c : v.substr(2)) {
    if (!is_digit(c)) return -1;
    w += (c - '0') * scale;
    scale /= 10;
  }
  return w <= 1000 ? w : -1;
}

// Weights as the field gives them: -1 where it names nothing.
struct weights {
  int by_coding[4] = {-1, -1, -1, -1};  // indexed by coding
  int any = -1;                         // `*`
};

// One list member: `name *( OWS ";" OWS param )`. Only q matters; other parameters are ignored.
void read_member(std::string_view member, weights& w) {
  const auto semi = member.find(';');
  const std::string_view name = trim_ows(member.substr(0, semi));
  int weight = 1000;
  if (semi != std::string_view::npos) {
    std::string_view params = member.substr(semi + 1);
    while (!params.empty()) {
      const auto next = params.find(';');
      const std::string_view p = trim_ows(params.substr(0, next));
      if (p.size() >= 2 && lower(p[0]) == 'q' && p[1] == '=') weight = parse_weight(p.substr(2));
      if (next == std::string_view::npos) break;
      params.remove_prefix(next + 1);
    }
  }
  if (weight < 0) return;  // malformed: as if absent
  if (name == "*") {
    w.any = weight;
    return;
  }
  coding c;
  if (parse_coding(name, c)) w.by_coding[static_cast<int>(c)] = weight;
}

int weight_of(const weights& w, coding c) {
  const int own = w.by_coding[static_cast<int>(c)];
  if (own >= 0) return own;
  if (w.any >= 0) return w.any;
  return c == coding::identity ? 1 : 0;  // identity is acceptable unless refused
}

}  // namespace

std::string_view coding_name(coding c) {
  switch (c) {
    case coding::identity: return "identity";
    case coding::gzip: return "gzip";
    case coding::br: return "br";
    case coding::zstd: return "zstd";
  }
  return "identity";
}

bool parse_coding(std::string_view name, coding& out) {
  if (iequals(name, "gzip") || iequals(name, "x-gzip")) out = coding::gzip;
  else if (iequals(name, "br")) out = coding::br;
  else if (iequals(name, "zstd")) out = coding::zstd;
  else if (iequals(name, "identity")) out = coding::identity;
  else return false;
  return true;
}

accept_fields accept_encoding_fields(std::span<const header_field> headers) {
  accept_fields a;
  for (const auto& h : headers) {
    if (a.n < std::size(a.one) && iequals(h.name, "accept-encoding")) a.one[a.n++] = h.value;
  }
  return a;
}

coding_choice negotiate(std::span<const std::string_view> fields, std::span<const coding> offered) {
  weights w;
  bool any_member = false;
  for (const auto field : fields) {
    for_each_list_item(field, [&](std::string_view member) {
      any_member = true;
      read_member(member, w);
    });
  }
  coding_choice out;
  if (!any_member) return out;
  const int identity = weight_of(w, coding::identity);
  out.identity_refused = identity == 0;
  int best = 0;
  for (const coding c : offered) {
    const int q = weight_of(w, c);
    if (q > best) {
      best = q;
      out.pick = c;
    }
  }
  if (identity > best) out.pick = coding::identity;
  return out;
}

}  // namespace hive::detail

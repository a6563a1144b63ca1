// permessage-deflate negotiation (RFC 7692 §5, §7.1): the server side.
#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>

#include "hive/request.hpp"
#include "hive/websocket.hpp"
#include "ws/deflate.hpp"

namespace hive::detail {

namespace {

std::string_view pmd_trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool pmd_iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

// Calls f(piece) for each piece of `v` between `sep`s that are not inside a quoted string.
template <class F>
bool pmd_split(std::string_view v, char sep, F f) {
  bool quoted = false;
  std::size_t from = 0;
  for (std::size_t i = 0; i <= v.size(); ++i) {
    if (i < v.size() && v[i] == '"') quoted = !quoted;
    if (i == v.size() || (!quoted && v[i] == sep)) {
      if (!f(pmd_trim(v.substr(from, i - from)))) return false;
      from = i + 1;
    }
  }
  return true;
}

// A window size parameter's value (§7.1.2): 8..15, digits without a leading zero, possibly
// quoted. 0 when invalid.
int pmd_bits(std::string_view v) {
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  if (v.empty() || v.size() > 2 || v.front() == '0') return 0;
  int n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return 0;
    n = n * 10 + (c - '0');
  }
  return n >= 8 && n <= 15 ? n : 0;
}

struct pmd_offer {
  bool server_no_context_takeover = false;
  bool client_no_context_takeover = false;
  int server_bits = 0;   // 0: not in the offer
  int client_bits = -1;  // -1: not in the offer; 0: offered without a value
};

// One element of the extension list. False when it is not permessage-deflate or must be
// declined: an unknown parameter, one given twice, or a value out of range (§7).
bool pmd_parse(std::string_view element, pmd_offer& o) {
  bool first = true, ok = true, seen[4] = {};
  pmd_split(element, ';', [&](std::string_view part) {
    if (first) {
      first = false;
      ok = pmd_iequal(part, "permessage-deflate");
      return ok;
    }
    const auto eq = part.find('=');
    const auto name = pmd_trim(part.substr(0, eq));
    const bool has_value = eq != std::string_view::npos;
    const auto value = has_value ? pmd_trim(part.substr(eq + 1)) : std::string_view();
    int which = -1;
    if (pmd_iequal(name, "server_no_context_takeover") && !has_value) {
      which = 0;
      o.server_no_context_takeover = true;
    } else if (pmd_iequal(name, "client_no_context_takeover") && !has_value) {
      which = 1;
      o.client_no_context_takeover = true;
    } else if (pmd_iequal(name, "server_max_window_bits") && has_value) {
      which = 2;
      o.server_bits = pmd_bits(value);
      if (o.server_bits == 0) which = -1;
    } else if (pmd_iequal(name, "client_max_window_bits")) {
      which = 3;
      o.client_bits = has_value ? pmd_bits(value) : 0;
      if (has_value && o.client_bits == 0) which = -1;
    }
    if (which < 0 || seen[which]) return ok = false;
    seen[which] = true;
    return true;
  });
  return ok && !first;
}

// Accepts `o` under the route's settings, or declines it (false).
bool pmd_accept(const pmd_offer& o, const ws_settings& s, deflate_params& p, std::string& answer) {
  const int mine = std::clamp<int>(s.deflate_window_bits, 9, 15);
  // zlib cannot compress with a 256-byte window (it would use 512): decline rather than lie.
  if (o.server_bits == 8) return false;
  p.server_window_bits = static_cast<std::uint8_t>(o.server_bits != 0 ? std::min(o.server_bits, mine) : mine);
  p.server_no_context_takeover = o.server_no_context_takeover || !s.deflate_context_takeover;
  p.client_no_context_takeover = o.client_no_context_takeover || !s.deflate_context_takeover;
  // The client's window can only be bounded if it said it can obey (client_max_window_bits).
  int client = o.client_bits > 0 ? o.client_bits : 15;
  const bool bound_client = o.client_bits >= 0 && mine < client;
  if (bound_client) client = mine;
  p.client_window_bits = static_cast<std::uint8_t>(client);
  answer = "permessage-deflate";
  if (p.server_no_context_takeover) answer += "; server_no_context_takeover";
  if (p.client_no_context_takeover) answer += "; client_no_context_takeover";
  if (o.server_bits != 0 || p.server_window_bits != 15) {
    answer += "; server_max_window_bits=" + std::to_string(p.server_window_bits);
  }
  if (bound_client) answer += "; client_max_window_bits=" + std::to_string(client);
  return true;
}

}  // namespace

bool negotiate_deflate(const request& req, const ws_settings& s, deflate_params& p, std::string& answer) {
  if (!s.deflate) return false;
  bool accepted = false;
  for (const auto& h : req.headers()) {
    if (accepted) break;
    if (!pmd_iequal(h.name, "Sec-WebSocket-Extensions")) continue;
    pmd_split(h.value, ',', [&](std::string_view element) {
      pmd_offer o;
      accepted = pmd_parse(element, o) && pmd_accept(o, s, p, answer);
      return !accepted;  // stop at the first accepted offer
    });
  }
  return accepted;
}

}  // namespace hive::detail

#include "hive/router.hpp"

#include "app/dispatcher.hpp"
#include "app/route_entry.hpp"
#include "app/route_match.hpp"

#include <stdexcept>
#include <utility>

#include "util/text.hpp"

namespace hive {

using detail::is_token;
using detail::percent_decode;

struct detail::route_node {
  std::vector<std::pair<std::string, std::unique_ptr<route_node>>> literals;
  std::unique_ptr<route_node> param;
  std::string param_name;
  std::unique_ptr<route_node> wildcard;                   // a trailing `*`
  std::vector<std::pair<std::string, route_entry>> methods;

  const route_entry* find_method(std::string_view m) const {
    for (const auto& [name, e] : methods) {
      if (name == m) return &e;
    }
    return nullptr;
  }
};

namespace {

std::string_view next_segment(std::string_view& rest) {
  const auto slash = rest.find('/');
  std::string_view seg = rest.substr(0, slash);
  rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  return seg;
}

void decode_into(std::string_view raw, std::string& scratch, std::vector<route_param>& params,
                 std::string_view name) {
  const std::size_t start = scratch.size();
  if (!percent_decode(raw, scratch, false)) {
    scratch.resize(start);
    scratch.append(raw);  // a malformed escape is passed on as sent
  }
  params.push_back({name, std::string_view(scratch).substr(start)});
}

struct searcher {
  // A constructor, not aggregate initialization, which would zero path_matches on every search.
  searcher(std::string_view m, std::string& s, std::vector<route_param>& p) : method(m), scratch(s), params(p) {}
  std::string_view method;
  std::string& scratch;
  std::vector<route_param>& params;
  // The nodes whose path matched but not the method, for 405's Allow (a wildcard's too).
  static constexpr std::size_t max_path_matches = 8;
  const detail::route_node* path_matches[max_path_matches];  // the first path_match_count are set
  std::size_t path_match_count = 0;

  const detail::route_entry* at_terminal(const detail::route_node& n) {
    if (n.methods.empty()) return nullptr;
    if (const auto* e = n.find_method(method)) return e;
    if (method == "HEAD") {
      if (const auto* e = n.find_method("GET")) return e;
    }
    if (path_match_count < max_path_matches) path_matches[path_match_count++] = &n;
    return nullptr;
  }

  // `rest` is the path after the segments `n` consumed; `done` when nothing is left.
  const detail::route_entry* search(const detail::route_node& n, std::string_view rest, bool done) {
    if (done) return at_terminal(n);
    const std::size_t mark_params = params.size();
    const std::size_t mark_scratch = scratch.size();
    std::string_view after = rest;
    const std::string_view seg = next_segment(after);
    const bool last = rest.find('/') == std::string_view::npos;
    for (const auto& [lit, child] : n.literals) {
      if (lit == seg) {
        if (const detail::route_entry* h = search(*child, after, last)) return h;
        break;
      }
    }
    // A parameter names something, so an empty segment (`/item/`, `/a//b`) is not one: it falls
    // through to a `*` here or to 404.
    if (n.param && !seg.empty()) {
      decode_into(seg, scratch, params, n.param_name);
      if (const detail::route_entry* h = search(*n.param, after, last)) return h;
      params.resize(mark_params);
      scratch.resize(mark_scratch);
    }
    if (n.wildcard) {
      decode_into(rest, scratch, params, "*");
      if (const detail::route_entry* h = at_terminal(*n.wildcard)) return h;
      params.resize(mark_params);
      scratch.resize(mark_scratch);
    }
    return nullptr;
  }
};

}  // namespace

router::router() : root_(std::make_unique<detail::route_node>()) {}
router::~router() = default;
router::router(router&&) noexcept = default;
router& router::operator=(router&&) noexcept = default;

void router::add(std::string_view method, std::string_view pattern, handler h, route_options opts,
                 const detail::filter_scope* scope) {
  if (!is_token(method)) {
    throw std::invalid_argument("hive: route method '" + std::string(method) + "' is not a token");
  }
  if (pattern.empty() || pattern.front() != '/') {
    throw std::invalid_argument("hive: route '" + std::string(pattern) + "' must start with '/'");
  }
  detail::route_node* n = root_.get();
  std::string_view rest = pattern.substr(1);
  bool done = false;
  while (!done) {
    done = rest.find('/') == std::string_view::npos;
    const std::string_view seg = next_segment(rest);
    if (seg == "*") {
      if (!done) {
        throw std::invalid_argument("hive: in route '" + std::string(pattern) +
                                    "', '*' must be the last segment");
      }
      if (!n->wildcard) n->wildcard = std::make_unique<detail::route_node>();
      n = n->wildcard.get();
    } else if (!seg.empty() && seg.front() == ':') {
      const std::string_view name = seg.substr(1);
      if (name.empty()) {
        throw std::invalid_argument("hive: in route '" + std::string(pattern) +
                                    "', a ':' parameter needs a name");
      }
      if (!n->param) {
        n->param = std::make_unique<detail::route_node>();
        n->param_name = name;
      } else if (n->param_name != name) {
        throw std::invalid_argument("hive: route '" + std::string(pattern) + "' names parameter ':" +
                                    std::string(name) + "' where another route has ':" +
                                    n->param_name + "'");
      }
      n = n->param.get();
    } else {
      detail::route_node* child = nullptr;
      for (auto& [lit, c] : n->literals) {
        if (lit == seg) child = c.get();
      }
      if (child == nullptr) {
        n->literals.emplace_back(std::string(seg), std::make_unique<detail::route_node>());
        child = n->literals.back().second.get();
      }
      n = child;
    }
  }
  if (n->find_method(method) != nullptr) {
    throw std::invalid_argument("hive: route " + std::string(method) + " " + std::string(pattern) +
                                " is defined twice");
  }
  n->methods.emplace_back(std::string(method),
                          detail::route_entry{std::move(h), std::move(opts.filters), scope, opts.max_body,
                                               opts.stream_body});
}

namespace detail {

namespace {
bool has_method(std::string_view allow, std::string_view name) {
  bool found = false;
  for_each_list_item(allow, [&](std::string_view m) { found |= m == name; });
  return found;
}
}  // namespace

void find_route(const router& rt, std::string_view method, std::string_view path, route_state& r) {
  r.target = nullptr;
  r.entry = nullptr;
  r.status = 404;
  if (path.empty() || path.front() != '/') return;
  searcher s{method, r.scratch, r.params};
  if (const route_entry* e = s.search(*rt.root_, path.substr(1), false)) {
    r.entry = e;
    r.target = &e->h;
    r.status = 200;
    return;
  }
  r.params.clear();
  if (s.path_match_count == 0) return;
  r.status = 405;
  r.allow.clear();
  bool has_get = false, has_head = false;
  // Every route whose path matched: `/users` (GET) and `/*` (OPTIONS) both answer /users.
  for (std::size_t i = 0; i < s.path_match_count; ++i) {
    for (const auto& [name, e] : s.path_matches[i]->methods) {
      if (has_method(r.allow, name)) continue;
      if (!r.allow.empty()) r.allow += ", ";
      r.allow += name;
      has_get |= name == "GET";
      has_head |= name == "HEAD";
    }
  }
  if (has_get && !has_head) r.allow += ", HEAD";
}

}  // namespace detail

}  // namespace hive

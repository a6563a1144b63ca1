#include "app/app_dispatcher.hpp"

#include <algorithm>
#include <string>

#include "app/route_match.hpp"
#include "net/protocol.hpp"
#include "util/status.hpp"

namespace hive::detail {

bool app_dispatcher::route(std::string_view method, std::string_view path, route_state& r) const {
  r.params.clear();
  if (path == "*") {
    // OPTIONS * (the parser refuses `*` with any other method): a server-wide "ping".
    r.target = nullptr;
    r.status = 200;
    return true;
  }
  r.scratch.clear();
  r.scratch.reserve(path.size());  // parameter views point into it: it must not reallocate
  find_route(app_.router(), method, path, r);
  return r.target != nullptr;
}

// No route of an app streams its request body yet (routes that do arrive with streamed bodies,
// issue #9): route() never sets stream_body, so nothing calls this.
void app_dispatcher::body_data(route_state&, std::string_view) {}

// No route of an app switches protocols yet (WebSocket routes, issue #12): an upgrade request is
// answered by its handler as any other, and the connection closes after it.
std::unique_ptr<protocol> app_dispatcher::upgrade(const request&, response&, const route_state&) {
  return nullptr;
}

void app_dispatcher::handle(const request& req, response& res, const route_state& r) const {
  if (r.target == nullptr) {
    hive_answer(r.status, &r, res);
    return;
  }
  (*r.target)(req, res);
}

void app_dispatcher::hive_answer(int status, const route_state* r, response& res) const {
  res.reset();
  res.status(status);
  if (status == 200) return;  // OPTIONS *
  if (status == 405 && r != nullptr) res.header("Allow", r->allow);
  const std::string_view phrase = reason_phrase(status);
  char body[64];
  const std::size_t n = std::min(phrase.size(), sizeof body - 1);
  phrase.copy(body, n);
  body[n] = '\n';
  res.text({body, n + 1});
}

void app_dispatcher::finished(const finished_record& rec) {
  if (stats_ == nullptr) return;
  stats_->add(stats_->requests);
  stats_->add(stats_->responses[rec.status / 100]);  // 101..599: response::status refuses others
}

}  // namespace hive::detail

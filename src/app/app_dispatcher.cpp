#include "app/app_dispatcher.hpp"

#include <time.h>

#include <algorithm>
#include <string>

#include "app/body_state.hpp"
#include "app/access_log.hpp"
#include "app/route_entry.hpp"
#include "app/route_match.hpp"
#include "hive/http_error.hpp"
#include "net/protocol.hpp"
#include "ops/ops_answers.hpp"
#include "util/log.hpp"
#include "util/status.hpp"
#include "ws/ws_route.hpp"

namespace hive::detail {

namespace {

std::int64_t monotonic_us() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

// A filter's before() in the scope chain, outermost (the app's) first. False: one answered.
bool run_befores(const filter_scope* s, bool at_head, const request& req, response& res) {
  if (s == nullptr) return true;
  if (!run_befores(s->parent, at_head, req, res)) return false;
  for (const auto& f : s->filters) {
    if (f.before && f.at_head == at_head && f.before(req, res) == filter_result::answered) return false;
  }
  return true;
}

bool run_route_befores(const route_state& r, bool at_head, const request& req, response& res) {
  if (!run_befores(r.scope, at_head, req, res)) return false;
  if (r.entry == nullptr) return true;
  for (const auto& f : r.entry->filters) {
    if (f.before && f.at_head == at_head && f.before(req, res) == filter_result::answered) return false;
  }
  return true;
}

// after() runs innermost first: the route's filters, then its group's, out to the app's.
void run_afters(const filter_scope* s, const request& req, response& res) {
  for (; s != nullptr; s = s->parent) {
    for (auto f = s->filters.rbegin(); f != s->filters.rend(); ++f) {
      if (f->after) f->after(req, res);
    }
  }
}

// The innermost group whose prefix `path` is under (at a segment boundary), else the app.
const filter_scope* scope_of_path(const std::vector<std::unique_ptr<filter_scope>>& groups,
                                  const filter_scope* root, std::string_view path) {
  const filter_scope* best = root;
  for (const auto& g : groups) {
    const std::string_view p = g->prefix;
    if (p.size() <= best->prefix.size() || !path.starts_with(p)) continue;
    if (path.size() == p.size() || path[p.size()] == '/') best = g.get();
  }
  return best;
}

}  // namespace

app_dispatcher::app_dispatcher(const app& a, counters* stats) : app_(a), stats_(stats) {
  filters_at_head_ = a.any_at_head_;
  filters_before_send_ = a.any_after_;
  route_extras_ = a.any_filter_;
}

void app_dispatcher::set_access_log(access_log* log) {
  log_ = log;
  filters_before_send_ = app_.any_after_ || log != nullptr;
  route_extras_ = app_.any_filter_ || log != nullptr;
}

bool app_dispatcher::route(std::string_view method, std::string_view path, route_state& r) const {
  r.params.clear();
  r.heads_ran = false;
  if (path == "*") {
    // OPTIONS * (the parser refuses `*` with any other method): a server-wide "ping".
    r.target = nullptr;
    r.entry = nullptr;
    r.max_body = 0;
    r.status = 200;
    r.scope = app_.root_.get();
    if (log_ != nullptr) r.start_us = monotonic_us();
    return true;
  }
  if (ops_) [[unlikely]] {
    if (route_ops(method, path, r)) return r.target != nullptr;
  }
  r.scratch.clear();
  r.scratch.reserve(path.size());  // parameter views point into it: it must not reallocate
  find_route(app_.router(), method, path, r);
  r.max_body = r.entry != nullptr ? r.entry->max_body : 0;  // the session reads it only if some route has one
  if (r.entry != nullptr && r.entry->stream_body) [[unlikely]] r.stream_body = true;
  if (route_extras_) [[unlikely]] {
    if (app_.any_filter_) {
      r.scope = r.entry != nullptr ? r.entry->scope : scope_of_path(app_.groups_, app_.root_.get(), path);
    }
    if (log_ != nullptr) r.start_us = monotonic_us();
  }
  return r.target != nullptr;
}

void app_dispatcher::set_ops_paths(const options& o, const bool* draining) {
  metrics_path_ = o.metrics_path;
  health_path_ = o.health_path;
  ready_path_ = o.ready_path;
  draining_ = draining;
  ops_ = !metrics_path_.empty() || !health_path_.empty() || !ready_path_.empty();
  metrics_h_ = [](const request&, response& res) { answer_metrics(res); };
  health_h_ = [](const request&, response& res) { answer_health(res); };
  ready_h_ = [this](const request&, response& res) {
    answer_ready(res, draining_ != nullptr && *draining_);
  };
}

// One of the operations paths: GET and HEAD get its answer, other methods 405.
[[gnu::noinline]] bool app_dispatcher::route_ops(std::string_view method, std::string_view path,
                                                  route_state& r) const {
  const handler* h = nullptr;
  if (!metrics_path_.empty() && path == metrics_path_) h = &metrics_h_;
  else if (!health_path_.empty() && path == health_path_) h = &health_h_;
  else if (!ready_path_.empty() && path == ready_path_) h = &ready_h_;
  if (h == nullptr) return false;
  r.entry = nullptr;
  r.max_body = 0;
  r.scope = &ops_scope_;
  if (method == "GET" || method == "HEAD") {
    r.target = h;
    r.status = 200;
  } else {
    r.target = nullptr;
    r.status = 405;
    r.allow = "GET, HEAD";
  }
  return true;
}

// A route with route_options::stream_body: its reader takes the bytes (a handler that never
// asked for one lets them go). The reader is held for the call: on_data may answer the request,
// and the session then lets go of it.
bool app_dispatcher::body_data(route_state& r, std::string_view bytes) {
  if (r.body == nullptr) return true;
  const auto reader = r.body;
  return reader->deliver(bytes);
}

// A WebSocket route (app::ws) switches a valid handshake; any other upgrade request is answered
// by its handler as any other, and the connection closes after it.
std::unique_ptr<protocol> app_dispatcher::upgrade(const request& req, response& res, const route_state& r) {
  if (r.target == nullptr) return nullptr;
  const auto* ws = r.target->target<ws_handler>();
  if (ws == nullptr) return nullptr;
  // The route's filters guard an upgrade as they guard any request. One that answers (an auth
  // filter's 401) refuses the upgrade: handle() then runs the filters again and sends that
  // answer — a refusal costs the filters twice, an upgrade once.
  if (app_.any_filter_) [[unlikely]] {
    response scratch;
    // Head filters too (a handshake has no body, so no head event ran them): auth at the head
    // must guard a WebSocket as it guards a GET.
    if (!r.heads_ran && !run_route_befores(r, true, req, scratch)) return nullptr;
    if (!run_route_befores(r, false, req, scratch)) return nullptr;
  }
  return ws_accept(*ws, req, res);
}

// No try here: a handler's http_error reaches the session, which asks answer_exception; the
// plain call keeps an app without filters at the cost it had before filters existed.
void app_dispatcher::handle(const request& req, response& res, const route_state& r) const {
  if (app_.any_filter_) [[unlikely]] {
    filtered_handle(req, res, r);
    return;
  }
  if (r.target == nullptr) {
    hive_answer(r.status, &r, res);
    return;
  }
  (*r.target)(req, res);
}

// Out of line, so that handle() stays a plain call for an app without filters.
[[gnu::noinline]] void app_dispatcher::filtered_handle(const request& req, response& res,
                                                        const route_state& r) const {
  // A message without a body (GET, Content-Length: 0) had no head event: its head filters (auth,
  // typically) run here, first, or they would be skipped.
  if (!r.heads_ran) {
    r.heads_ran = true;
    if (!run_route_befores(r, true, req, res)) return;
  }
  if (!run_route_befores(r, false, req, res)) return;
  if (r.target == nullptr) {
    hive_answer(r.status, &r, res);
    return;
  }
  (*r.target)(req, res);
}

bool app_dispatcher::answer_exception(const std::exception& e, const route_state* r, response& res) const {
  const auto* h = dynamic_cast<const http_error*>(&e);
  if (h == nullptr) return false;
  answer_http_error(*h, r, res);
  return true;
}

bool app_dispatcher::head(const request& req, response& res, const route_state& r) {
  r.heads_ran = true;
  try {
    return !run_route_befores(r, true, req, res);
  } catch (const http_error& e) {
    answer_http_error(e, &r, res);
  } catch (const std::exception& e) {
    warn("filter for ", req.method(), ' ', req.path(), " threw: ", e.what(), "; answered 500");
    hive_answer(500, &r, res);
  } catch (...) {
    warn("filter for ", req.method(), ' ', req.path(), " threw; answered 500");
    hive_answer(500, &r, res);
  }
  return true;
}

void app_dispatcher::before_send(const request& req, response& res, const route_state* r) {
  const filter_scope* scope = r != nullptr && r->scope != nullptr ? r->scope : app_.root_.get();
  try {
    if (r != nullptr && r->entry != nullptr) {
      const auto& own = r->entry->filters;
      for (auto f = own.rbegin(); f != own.rend(); ++f) {
        if (f->after) f->after(req, res);
      }
    }
    if (app_.any_after_) run_afters(scope, req, res);
  } catch (const std::exception& e) {
    // The response is what it is by now: a failing after() is logged, and the rest skipped.
    warn("a filter's after() for ", req.method(), ' ', req.path(), " threw: ", e.what());
  } catch (...) {
    warn("a filter's after() for ", req.method(), ' ', req.path(), " threw");
  }
  // Last: the line shows the answer as sent, after every filter's after(). A request refused
  // before it was routed has no start: 0 µs.
  if (log_ != nullptr) log_->record(req, res, r != nullptr && r->start_us != 0 ? monotonic_us() - r->start_us : 0);
}

// An http_error with a status that is no error (200, 302 …) is a bug of the handler's: 500.
void app_dispatcher::answer_http_error(const http_error& e, const route_state* r, response& res) const {
  if (e.status() < 400 || e.status() > 599) {
    answer(500, reason_phrase(500), r, res);
    return;
  }
  answer(e.status(), e.what(), r, res);
}

void app_dispatcher::hive_answer(int status, const route_state* r, response& res) const {
  answer(status, reason_phrase(status), r, res);
}

void app_dispatcher::answer(int status, std::string_view message, const route_state* r,
                            response& res) const {
  if ((status < 400 || status > 599) && status != 200) {  // 200: OPTIONS *
    status = 500;
    message = reason_phrase(500);
  }
  res.reset();
  res.status(status);
  if (status == 200) return;  // OPTIONS *
  if (status == 405 && r != nullptr) res.header("Allow", r->allow);
  if (app_.on_error_) {
    try {
      app_.on_error_(status, message, res);
      return;
    } catch (const std::exception& e) {
      warn("the app's error handler threw for ", status, ": ", e.what(), "; answered hive's text");
    } catch (...) {
      warn("the app's error handler threw for ", status, "; answered hive's text");
    }
    res.reset();
    res.status(status);
    if (status == 405 && r != nullptr) res.header("Allow", r->allow);
  }
  if (message.size() <= 62) {
    // hive's own phrases: no allocation beyond the response's reused body.
    char body[64];
    message.copy(body, message.size());
    body[message.size()] = '\n';
    res.text({body, message.size() + 1});
    return;
  }
  std::string body(message);
  body += '\n';
  res.text(body);
}

void app_dispatcher::finished(const finished_record& rec) {
  counters* c = stats_;  // a local: the stores below may not alias it, so it is loaded once
  if (c == nullptr) return;
  c->add(c->responses[rec.status / 100]);  // 101..599: response::status refuses others
  c->add(c->by_method[static_cast<int>(classify_method(rec.method))]);  // also the request count
  // The loop's clock, stamped once per batch of events: whole milliseconds.
  const std::int64_t ms = rec.end_ms - rec.start_ms;
  c->add(c->duration[duration_bucket(ms)]);
  if (ms > 0) c->add(c->duration_ms_sum, static_cast<std::uint64_t>(ms));
}

}  // namespace hive::detail

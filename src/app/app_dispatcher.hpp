// The application behind the dispatcher interface: routes through the app's router, runs its
// filters and handlers, writes hive's own answers (through the app's error handler), and counts
// every finished response.
#pragma once

#include "app/dispatcher.hpp"
#include "app/route_entry.hpp"
#include "hive/app.hpp"
#include "hive/http_error.hpp"
#include "hive/options.hpp"
#include "util/counters.hpp"

namespace hive::detail {

class access_log;

class app_dispatcher final : public dispatcher {
 public:
  // `stats` may be null (nothing counted). The app must be complete (its filters added).
  app_dispatcher(const app& a, counters* stats);
  void set_counters(counters* c) { stats_ = c; }
  // Every answer is logged there from now on (it must outlive the dispatcher's use); null: none.
  void set_access_log(access_log* log);
  // hive's operations routes (--metrics-path, --health-path, --ready-path), answered before the
  // app's routes and without its filters; `draining` is the server's own drain (readiness alone).
  void set_ops_paths(const options& o, const bool* draining);

  bool route(std::string_view method, std::string_view path, route_state& r) const override;
  bool body_data(route_state& r, std::string_view bytes) override;
  std::unique_ptr<protocol> upgrade(const request& req, response& res, const route_state& r) override;
  void handle(const request& req, response& res, const route_state& r) const override;
  void hive_answer(int status, const route_state* r, response& res) const override;
  void finished(const finished_record& rec) override;
  bool answer_exception(const std::exception& e, const route_state* r, response& res) const override;
  bool head(const request& req, response& res, const route_state& r) override;
  void before_send(const request& req, response& res, const route_state* r) override;

 private:
  // hive's answer with `status`, the body by the app's error handler (or `message` as text).
  void filtered_handle(const request& req, response& res, const route_state& r) const;
  void answer(int status, std::string_view message, const route_state* r, response& res) const;
  void answer_http_error(const http_error& e, const route_state* r, response& res) const;

  bool route_ops(std::string_view method, std::string_view path, route_state& r) const;

  const app& app_;
  counters* stats_;
  access_log* log_ = nullptr;
  // route() goes past finding the route: the app has filters (their scope) or a log (its clock).
  bool route_extras_ = false;
  // Operations routes: off unless a path is set (route() then pays one load and a branch).
  bool ops_ = false;
  std::string metrics_path_, health_path_, ready_path_;
  handler metrics_h_, health_h_, ready_h_;
  filter_scope ops_scope_;  // no filters: the app's never run for these
  const bool* draining_ = nullptr;
};

}  // namespace hive::detail

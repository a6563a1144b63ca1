// The application behind the dispatcher interface: routes through the app's router, runs its
// filters and handlers, writes hive's own answers (through the app's error handler), and counts
// every finished response.
#pragma once

#include "app/dispatcher.hpp"
#include "hive/app.hpp"
#include "hive/http_error.hpp"
#include "util/counters.hpp"

namespace hive::detail {

class app_dispatcher final : public dispatcher {
 public:
  // `stats` may be null (nothing counted). The app must be complete (its filters added).
  app_dispatcher(const app& a, counters* stats);
  void set_counters(counters* c) { stats_ = c; }

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

  const app& app_;
  counters* stats_;
};

}  // namespace hive::detail

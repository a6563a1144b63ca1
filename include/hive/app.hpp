// hive::app — the routes of a server. Build it once at start-up, then hand it to hive::run
// (a cluster), hive::serve (this process) or a hive::server (an io_context you own).
//
//   hive::app app;
//   app.get("/", [](const hive::request&, hive::response& res) { res.text("Hello, world!\n"); });
//   app.post("/users/:id", [](const hive::request& req, hive::response& res) {
//     res.status(201).json({{"id", *req.param("id")}});
//   });
#pragma once

#include <string_view>

#include "hive/router.hpp"

namespace hive {

class app {
 public:
  app& get(std::string_view path, handler h) { return route("GET", path, std::move(h)); }
  app& post(std::string_view path, handler h) { return route("POST", path, std::move(h)); }
  app& put(std::string_view path, handler h) { return route("PUT", path, std::move(h)); }
  app& patch(std::string_view path, handler h) { return route("PATCH", path, std::move(h)); }
  app& del(std::string_view path, handler h) { return route("DELETE", path, std::move(h)); }
  app& options(std::string_view path, handler h) { return route("OPTIONS", path, std::move(h)); }
  app& route(std::string_view method, std::string_view path, handler h) {
    router_.add(method, path, std::move(h));
    return *this;
  }

  const hive::router& router() const { return router_; }

 private:
  hive::router router_;
};

}  // namespace hive

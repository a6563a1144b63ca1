// hive::router — maps a method and a path to a handler. Patterns are `/`-separated segments:
// literal text, `:name` (one non-empty segment, read with req.param("name")) or a final `*` (the
// rest of the path, read with req.param("*")). Literal segments win over parameters, parameters
// over `*`; an empty segment (`/users/`) is no parameter's, so it reaches `*` or 404.
//
//   r.add("GET", "/users/:id/files/*", handler);
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hive/request.hpp"
#include "hive/response.hpp"

namespace hive {

using handler = std::function<void(const request&, response&)>;

class router {
 public:
  router();
  ~router();
  router(router&&) noexcept;
  router& operator=(router&&) noexcept;

  // Throws std::invalid_argument for a malformed pattern or a method that is not a token.
  void add(std::string_view method, std::string_view pattern, handler h);

  struct match {
    const handler* target = nullptr;  // null: see status
    int status = 200;                 // 404 no path matched; 405 path matched, method did not
    std::string allow;                // for 405: the methods the path has, comma-separated
  };
  // Finds the handler for `method` and raw `path`. Parameter values are percent-decoded into
  // `scratch` (reserved by the caller to path.size(), so views stay valid) and appended to
  // `params`. HEAD falls back to GET.
  match find(std::string_view method, std::string_view path, std::string& scratch,
             std::vector<route_param>& params) const;

  struct node;  // the pattern tree; defined in router.cpp

 private:
  std::unique_ptr<node> root_;
};

}  // namespace hive

#include "hive/app.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "app/route_entry.hpp"

namespace hive {

app::app() : root_(std::make_unique<detail::filter_scope>()) {}
app::~app() = default;
app::app(app&&) noexcept = default;
app& app::operator=(app&&) noexcept = default;

app& app::route(std::string_view method, std::string_view path, handler h, route_options o) {
  for (const auto& f : o.filters) note(f);
  max_route_body_ = std::max(max_route_body_, o.max_body);
  router_.add(method, path, std::move(h), std::move(o), root_.get());
  return *this;
}

void app::note(const filter& f) {
  if (!f.before && !f.after) throw std::invalid_argument("hive: a filter needs a before or an after");
  any_filter_ = true;
  any_at_head_ |= f.at_head && static_cast<bool>(f.before);
  any_after_ |= static_cast<bool>(f.after);
}

app& app::use(filter f) {
  note(f);
  root_->filters.push_back(std::move(f));
  return *this;
}

app& app::on_error(error_handler h) {
  on_error_ = std::move(h);
  return *this;
}

route_group app::group(std::string_view prefix) { return make_group(prefix, root_.get()); }

route_group app::make_group(std::string_view prefix, const detail::filter_scope* parent) {
  if (prefix.size() < 2 || prefix.front() != '/' || prefix.back() == '/') {
    throw std::invalid_argument("hive: group prefix '" + std::string(prefix) +
                                "' must start with '/' and not end with one (\"/api\")");
  }
  auto s = std::make_unique<detail::filter_scope>();
  s->prefix = parent->prefix + std::string(prefix);
  s->parent = parent;
  groups_.push_back(std::move(s));
  return route_group(*this, *groups_.back());
}

route_group& route_group::use(filter f) {
  app_->note(f);
  scope_->filters.push_back(std::move(f));
  return *this;
}

route_group route_group::group(std::string_view prefix) { return app_->make_group(prefix, scope_); }

route_group& route_group::route(std::string_view method, std::string_view path, handler h,
                                route_options o) {
  if (path.empty() || path.front() != '/') {
    throw std::invalid_argument("hive: route '" + std::string(path) + "' must start with '/'");
  }
  for (const auto& f : o.filters) app_->note(f);
  app_->max_route_body_ = std::max(app_->max_route_body_, o.max_body);
  const std::string full = path == "/" ? scope_->prefix : scope_->prefix + std::string(path);
  app_->router_.add(method, full, std::move(h), std::move(o), scope_);
  return *this;
}

}  // namespace hive

#include "hive/request.hpp"

#include "util/text.hpp"

namespace hive {

std::optional<std::string_view> request::header(std::string_view name) const {
  for (const auto& h : headers_) {
    if (detail::iequals(h.name, name)) return h.value;
  }
  return std::nullopt;
}

std::string_view request::param(std::string_view name) const {
  for (const auto& p : params_) {
    if (p.name == name) return p.value;
  }
  return {};
}

std::optional<std::string> request::query(std::string_view name) const {
  std::string_view rest = query_;
  std::string key;
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    const auto eq = pair.find('=');
    key.clear();
    if (!detail::percent_decode(pair.substr(0, eq), key, true) || key != name) continue;
    std::string value;
    if (eq != std::string_view::npos &&
        !detail::percent_decode(pair.substr(eq + 1), value, true)) {
      value.assign(pair.substr(eq + 1));  // a malformed escape is passed on as sent
    }
    return value;
  }
  return std::nullopt;
}

}  // namespace hive

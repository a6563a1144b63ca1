// Reading back a field a response holds (its "name: value\r\n" lines), for filters and the access
// log: the first with that name (case-insensitive), or nullopt.
#pragma once

#include <optional>
#include <string_view>

#include "hive/response.hpp"
#include "util/text.hpp"

namespace hive::detail {

inline std::optional<std::string_view> response_field(const response& res, std::string_view name) {
  std::string_view f = res.fields();
  while (!f.empty()) {
    const auto eol = f.find("\r\n");
    const std::string_view line = f.substr(0, eol);
    const auto colon = line.find(':');
    if (colon != std::string_view::npos && iequals(line.substr(0, colon), name)) {
      return trim_ows(line.substr(colon + 1));
    }
    if (eol == std::string_view::npos) break;
    f.remove_prefix(eol + 2);
  }
  return std::nullopt;
}

}  // namespace hive::detail

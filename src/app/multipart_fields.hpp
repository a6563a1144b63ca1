// The header fields of multipart/form-data: the request's Content-Type (its boundary) and a
// part's header section (Content-Disposition, Content-Type).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "hive/multipart.hpp"

namespace hive::detail {

// The checked boundary of a `multipart/form-data` Content-Type, or nullopt.
std::optional<std::string> form_boundary(std::string_view content_type);

// Reads a part's header section (field lines, each ending with CRLF) into `part`.
multipart_error parse_part_head(std::string_view section, multipart_part& part);

}  // namespace hive::detail

// Content types by file extension: /etc/mime.types (Debian's media-types) read once per process,
// over a compiled-in table of the common web types; text types get `charset=utf-8`.
#pragma once

#include <string>
#include <string_view>

namespace hive::detail {

// For a file name ("app.js" → "text/javascript; charset=utf-8"); application/octet-stream when
// the extension is unknown.
const std::string& content_type_for(std::string_view file_name);

}  // namespace hive::detail

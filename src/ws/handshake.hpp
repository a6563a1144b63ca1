// The opening handshake's server side (RFC 6455 §4.2): is a request a valid WebSocket upgrade,
// and the Sec-WebSocket-Accept that proves the server read its key.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "hive/request.hpp"

namespace hive::detail {

enum class handshake_check : std::uint8_t {
  ok,
  not_upgrade,  // no `Upgrade: websocket` / `Connection: upgrade`: 426 with `Upgrade: websocket`
  bad_version,  // a Sec-WebSocket-Version other than 13: 426 with `Sec-WebSocket-Version: 13`
  malformed,    // not GET, not HTTP/1.1, no or a bad Sec-WebSocket-Key, no version: 400
};

// Checks `req`; on ok, `key` is its Sec-WebSocket-Key.
handshake_check check_handshake(const request& req, std::string_view& key);
// base64(SHA-1(key + the RFC's GUID)).
std::string accept_key(std::string_view key);
// The tokens of a comma-separated header (Sec-WebSocket-Protocol), trimmed, in order.
std::vector<std::string_view> header_tokens(std::string_view value);
// True when the comma-separated `value` holds `token`, case-insensitively.
bool has_token(std::string_view value, std::string_view token);

// Base64 (RFC 4648, padded).
std::string base64_encode(std::string_view bytes);
// False when `text` is not padded base64.
bool base64_decode(std::string_view text, std::string& out);

}  // namespace hive::detail

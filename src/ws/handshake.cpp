#include "ws/handshake.hpp"

#include <openssl/evp.h>


namespace hive::detail {

namespace {

constexpr std::string_view guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

std::string_view ws_trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool ws_iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

bool ws_is_b64(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

// A nonce of 16 bytes, base64: 22 characters, the last holding 2 bits (so its low 4 are zero),
// then "==" (§4.1: "randomly selected 16-byte value that has been base64-encoded").
bool ws_valid_key(std::string_view k) {
  if (k.size() != 24 || k[22] != '=' || k[23] != '=') return false;
  for (std::size_t i = 0; i < 22; ++i) {
    if (!ws_is_b64(k[i])) return false;
  }
  const std::string_view last_ok = "AQgw";
  return last_ok.find(k[21]) != std::string_view::npos;
}

}  // namespace

std::vector<std::string_view> header_tokens(std::string_view value) {
  std::vector<std::string_view> out;
  while (!value.empty()) {
    const auto comma = value.find(',');
    const auto t = ws_trim(value.substr(0, comma));
    if (!t.empty()) out.push_back(t);
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return out;
}

bool has_token(std::string_view value, std::string_view token) {
  for (auto t : header_tokens(value)) {
    if (ws_iequal(t, token)) return true;
  }
  return false;
}

handshake_check check_handshake(const request& req, std::string_view& key) {
  const auto upgrade = req.header("Upgrade");
  const auto connection = req.header("Connection");
  if (!upgrade || !connection || !has_token(*upgrade, "websocket") || !has_token(*connection, "upgrade")) {
    return handshake_check::not_upgrade;
  }
  if (req.method() != "GET" || req.version_major() != 1 || req.version_minor() < 1) {
    return handshake_check::malformed;
  }
  const auto version = req.header("Sec-WebSocket-Version");
  if (!version) return handshake_check::malformed;
  if (ws_trim(*version) != "13") return handshake_check::bad_version;
  const auto k = req.header("Sec-WebSocket-Key");
  if (!k || !ws_valid_key(ws_trim(*k))) return handshake_check::malformed;
  key = ws_trim(*k);
  return handshake_check::ok;
}

std::string accept_key(std::string_view key) {
  std::string in(key);
  in += guid;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(in.data(), in.size(), digest, &len, EVP_sha1(), nullptr);
  return base64_encode({reinterpret_cast<const char*>(digest), len});
}

std::string base64_encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

bool base64_decode(std::string_view text, std::string& out) {
  if (text.size() % 4 != 0) return false;
  out.assign(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return false;
  std::size_t len = static_cast<std::size_t>(n);
  // EVP_DecodeBlock counts the padding as zero bytes.
  if (!text.empty() && text.back() == '=') --len;
  if (text.size() >= 2 && text[text.size() - 2] == '=') --len;
  out.resize(len);
  return true;
}

}  // namespace hive::detail

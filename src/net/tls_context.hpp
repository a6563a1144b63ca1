// A worker's TLS configuration: OpenSSL SSL_CTXs made from hive::options (certificate chain,
// key, minimum version, forward-secret AEAD ciphers, ALPN http/1.1, no renegotiation, no
// compression), and the per-connection SSL objects made from it. The primary builds one first
// only to check the files before forking (tls_check), so a bad file exits 2 instead of crashing
// every worker in turn.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "hive/options.hpp"
#include "net/tls_tickets.hpp"

using SSL_CTX = struct ssl_ctx_st;
using SSL = struct ssl_st;

namespace hive::detail {

class tls_context {
 public:
  // The context, or null with `error` saying which file and what is wrong. With `keys`, session
  // tickets are sealed with them (see tls_tickets.hpp); without, OpenSSL's own per-process keys.
  static std::unique_ptr<tls_context> load(const options& opts, std::string& error,
                                           const ticket_keys* keys = nullptr);
  ~tls_context();
  tls_context(const tls_context&) = delete;
  tls_context& operator=(const tls_context&) = delete;

  // A server-side SSL on the accepted socket `fd`, or null (out of memory).
  SSL* accept(int fd) const;

 private:
  explicit tls_context(SSL_CTX* ctx) : ctx_(ctx) {}
  static int on_server_name(SSL* ssl, int* alert, void* self);
  SSL_CTX* ctx_;
  std::vector<std::pair<std::string, SSL_CTX*>> names_;  // SNI: by host name, in option order
};

// Empty when TLS is off or the files are good; else the message to print before exiting 2.
std::string tls_check(const options& opts);

// The TLS 1.2 cipher list (TLS 1.3's suites are OpenSSL's defaults, all AEAD and forward-secret).
inline constexpr const char* tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

}  // namespace hive::detail

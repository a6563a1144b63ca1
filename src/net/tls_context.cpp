#include "net/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "net/tls_certificate_check.hpp"
#include "net/tls_kernel.hpp"

namespace hive::detail {

namespace {

// OpenSSL's reason for the last failure, and the queue left empty for the next caller.
std::string openssl_reason() {
  const unsigned long e = ERR_peek_last_error();
  std::string s = "unknown error";
  if (e != 0) {
    const char* r = ERR_reason_error_string(e);
    s = r != nullptr ? r : "error " + std::to_string(e);
  }
  ERR_clear_error();
  return s;
}

// ALPN: http/1.1 or nothing. A client that offers only other protocols (h2) is refused with
// the no_application_protocol alert rather than served a protocol it did not ask for.
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void*) {
  static const unsigned char ours[] = "\x08http/1.1";
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, outlen, ours, sizeof ours - 1, in, inlen) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

bool readable(const std::string& path) { return ::access(path.c_str(), R_OK) == 0; }

// One certificate's context, configured like every other (SNI switches contexts mid-handshake,
// and ALPN and tickets are then read from the new one). Null with `error` naming the file.
SSL_CTX* make_ctx(const options& o, const std::string& cert, const std::string& key,
                  const std::string& flag_prefix, const ticket_keys* keys, std::string& error) {
  if (!readable(cert)) {
    error = "--tls-cert " + flag_prefix + cert + ": cannot read the file (" + std::string(std::strerror(errno)) + ")";
    return nullptr;
  }
  if (!readable(key)) {
    error = "--tls-key " + flag_prefix + key + ": cannot read the file (" + std::string(std::strerror(errno)) + ")";
    return nullptr;
  }
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) {
    error = "cannot create a TLS context: " + openssl_reason();
    return nullptr;
  }
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> owned(ctx, &SSL_CTX_free);
  SSL_CTX_set_min_proto_version(
      ctx, o.tls_min_version == options::tls_version::tls1_3 ? TLS1_3_VERSION : TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE |
                               // A client that closes without close_notify is an EOF, as for
                               // plain TCP: HTTP frames its own messages.
                               SSL_OP_IGNORE_UNEXPECTED_EOF);
  // Kernel TLS: after each handshake OpenSSL hands the keys to the socket where the cipher
  // allows (AES-GCM; ChaCha20-Poly1305 on newer kernels) and falls back to user space otherwise.
  // Probed once per process: on a kernel without the module every handshake would otherwise
  // pay a failing setsockopt.
  if (o.tls_kernel && kernel_tls().available) SSL_CTX_set_options(ctx, SSL_OP_ENABLE_KTLS);
  // A write retried after WANT_WRITE comes from the worker's scratch buffer, re-gathered; idle
  // connections give their record buffers back (~34 KiB each).
  SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  // Read-ahead: one socket read takes whatever is there (a whole record, or several pipelined)
  // instead of a 5-byte header and then the body; tls_stream::read then stops at a short read.
  SSL_CTX_set_read_ahead(ctx, 1);
  // Resumption by tickets only (no per-worker server cache that would grow with clients).
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  if (SSL_CTX_set_cipher_list(ctx, tls12_ciphers) != 1) {
    error = "cannot set the TLS 1.2 ciphers: " + openssl_reason();
    return nullptr;
  }
  SSL_CTX_set_alpn_select_cb(ctx, &select_alpn, nullptr);
  if (!o.tls_tickets) {
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);  // TLS 1.2: no ticket extension
    SSL_CTX_set_num_tickets(ctx, 0);             // TLS 1.3: no NewSessionTicket
  } else if (keys != nullptr && !use_ticket_keys(ctx, keys, 2 * std::chrono::duration_cast<std::chrono::seconds>(
                                                           o.tls_ticket_rotation))) {
    error = "cannot set the session-ticket keys: " + openssl_reason();
    return nullptr;
  }
  if (SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) != 1) {
    error = "--tls-cert " + flag_prefix + cert + ": not a PEM certificate chain (" + openssl_reason() + ")";
    return nullptr;
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1) {
    const std::string why = openssl_reason();
    error = why.find("mismatch") != std::string::npos
                ? "--tls-key " + flag_prefix + key + ": the key does not match the certificate in " + cert
                : "--tls-key " + flag_prefix + key + ": not a PEM private key (" + why + ")";
    return nullptr;
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    openssl_reason();
    error = "--tls-key " + flag_prefix + key + ": the key does not match the certificate in " + cert;
    return nullptr;
  }
  error = check_certificate_chain(ctx, flag_prefix + cert);
  if (!error.empty()) return nullptr;
  return owned.release();
}

// "Api.Example.com" against "api.example.com" or "*.example.com" (one label: "a.b.example.com"
// does not match, as RFC 6125 §6.4.3 has it for certificates).
bool name_matches(std::string_view pattern, std::string_view name) {
  auto same = [](std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(a[i])) != b[i]) return false;
    }
    return true;
  };
  if (!pattern.starts_with("*.")) return same(name, pattern);
  const auto dot = name.find('.');
  return dot != std::string_view::npos && dot > 0 && same(name.substr(dot), pattern.substr(1));
}

}  // namespace

// The client's server name picks the context; none, or an unknown one, keeps the default.
int tls_context::on_server_name(SSL* ssl, int*, void* arg) {
  const auto* self = static_cast<const tls_context*>(arg);
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (name == nullptr) return SSL_TLSEXT_ERR_NOACK;
  const std::string_view n(name);
  for (const auto& [host, ctx] : self->names_) {  // exact names first: they are more specific
    if (!host.starts_with("*.") && name_matches(host, n)) return SSL_set_SSL_CTX(ssl, ctx) ? SSL_TLSEXT_ERR_OK : SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  for (const auto& [host, ctx] : self->names_) {
    if (host.starts_with("*.") && name_matches(host, n)) return SSL_set_SSL_CTX(ssl, ctx) ? SSL_TLSEXT_ERR_OK : SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  return SSL_TLSEXT_ERR_OK;
}

std::unique_ptr<tls_context> tls_context::load(const options& o, std::string& error,
                                               const ticket_keys* keys) {
  const std::string& cert = o.tls_cert_file;
  const std::string& key = o.tls_key_file;
  if (cert.empty() || key.empty()) {
    error = cert.empty() ? "--tls-key needs --tls-cert as well" : "--tls-cert needs --tls-key as well";
    return nullptr;
  }
  SSL_CTX* main = make_ctx(o, cert, key, "", keys, error);
  if (main == nullptr) return nullptr;
  std::unique_ptr<tls_context> c(new tls_context(main));
  for (const auto& n : o.tls_names) {
    if (n.cert_file.empty() || n.key_file.empty()) {
      error = "--tls-" + std::string(n.cert_file.empty() ? "cert " : "key ") + n.host +
              "=FILE is missing: a server name needs both a certificate and a key";
      return nullptr;
    }
    SSL_CTX* ctx = make_ctx(o, n.cert_file, n.key_file, n.host + "=", keys, error);
    if (ctx == nullptr) return nullptr;
    c->names_.emplace_back(n.host, ctx);
  }
  if (!c->names_.empty()) {
    SSL_CTX_set_tlsext_servername_callback(main, &tls_context::on_server_name);
    SSL_CTX_set_tlsext_servername_arg(main, c.get());
  }
  return c;
}

tls_context::~tls_context() {
  for (auto& n : names_) SSL_CTX_free(n.second);
  SSL_CTX_free(ctx_);
}

SSL* tls_context::accept(int fd) const {
  SSL* ssl = SSL_new(ctx_);
  if (ssl == nullptr) {
    ERR_clear_error();
    return nullptr;
  }
  if (SSL_set_fd(ssl, fd) != 1) {
    ERR_clear_error();
    SSL_free(ssl);
    return nullptr;
  }
  SSL_set_accept_state(ssl);
  return ssl;
}

std::string tls_check(const options& opts) {
  if (opts.tls_cert_file.empty() && opts.tls_key_file.empty()) return {};
  std::string error;
  if (tls_context::load(opts, error) == nullptr) return "hive: " + error;
  return {};
}

}  // namespace hive::detail

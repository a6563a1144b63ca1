#include "net/tls_tickets.hpp"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <new>

namespace hive::detail {

namespace {

bool fresh(ticket_keys::key& k) {
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&k), sizeof k) == 1) return true;
  ERR_clear_error();
  return false;
}

void store(std::atomic<std::uint64_t>* to, const ticket_keys::key& k) {
  std::uint64_t w[sizeof k / 8];
  std::memcpy(w, &k, sizeof k);
  for (std::size_t i = 0; i < sizeof k / 8; ++i) to[i].store(w[i], std::memory_order_relaxed);
}

void load(const std::atomic<std::uint64_t>* from, ticket_keys::key& k) {
  std::uint64_t w[sizeof k / 8];
  for (std::size_t i = 0; i < sizeof k / 8; ++i) w[i] = from[i].load(std::memory_order_relaxed);
  std::memcpy(&k, w, sizeof k);
}

bool set_hmac_key(EVP_MAC_CTX* hctx, const ticket_keys::key& k) {
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, const_cast<unsigned char*>(k.hmac),
                                        sizeof k.hmac),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end(),
  };
  return EVP_MAC_CTX_set_params(hctx, params) == 1;
}

// OpenSSL's ticket callback: 1 = use this key, 2 = it opened the ticket but issue a new one
// (the previous key), 0 = unknown key (full handshake), -1 = error.
int on_ticket(SSL* ssl, unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cctx,
              EVP_MAC_CTX* hctx, int encrypt) {
  const auto* keys = static_cast<const ticket_keys*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  if (keys == nullptr) return -1;
  const ticket_keys::both k = keys->read();
  if (encrypt == 1) {
    if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) != 1) return -1;
    std::memcpy(name, k.current.name, ticket_keys::name_bytes);
    if (EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), nullptr, k.current.aes, iv) != 1) return -1;
    return set_hmac_key(hctx, k.current) ? 1 : -1;
  }
  const ticket_keys::key* use = nullptr;
  int found = 0;
  if (std::memcmp(name, k.current.name, ticket_keys::name_bytes) == 0) {
    use = &k.current;
    found = 1;
  } else if (k.has_previous && std::memcmp(name, k.previous.name, ticket_keys::name_bytes) == 0) {
    use = &k.previous;
    found = 2;
  }
  if (use == nullptr) return 0;
  if (!set_hmac_key(hctx, *use)) return -1;
  if (EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), nullptr, use->aes, iv) != 1) return -1;
  return found;
}

}  // namespace

ticket_keys* ticket_keys::create() {
  void* p = ::mmap(nullptr, sizeof(ticket_keys), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  auto* keys = new (p) ticket_keys;
  key k{};
  if (!fresh(k)) {
    destroy(keys);
    return nullptr;
  }
  store(keys->current_, k);
  return keys;
}

void ticket_keys::destroy(ticket_keys* keys) {
  if (keys == nullptr) return;
  keys->~ticket_keys();
  ::munmap(keys, sizeof(ticket_keys));
}

bool ticket_keys::rotate() {
  key next{};
  if (!fresh(next)) return false;
  key now{};
  load(current_, now);
  seq_.fetch_add(1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  store(previous_, now);
  store(current_, next);
  has_previous_.store(true, std::memory_order_relaxed);
  seq_.fetch_add(1, std::memory_order_release);
  return true;
}

ticket_keys::both ticket_keys::read() const {
  both b{};
  for (;;) {
    const std::uint64_t before = seq_.load(std::memory_order_acquire);
    if (before % 2 == 0) {
      load(current_, b.current);
      load(previous_, b.previous);
      b.has_previous = has_previous_.load(std::memory_order_relaxed);
      std::atomic_thread_fence(std::memory_order_acquire);
      if (seq_.load(std::memory_order_relaxed) == before) return b;
    }
  }
}

bool use_ticket_keys(SSL_CTX* ctx, const ticket_keys* keys, std::chrono::seconds lifetime) {
  // TLS 1.3 caps a ticket's lifetime at seven days (RFC 8446 §4.6.1).
  const long secs = static_cast<long>(std::clamp<std::int64_t>(lifetime.count(), 1, 7 * 24 * 3600));
  SSL_CTX_set_timeout(ctx, secs);
  if (SSL_CTX_set_app_data(ctx, const_cast<ticket_keys*>(keys)) != 1) return false;
  return SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, &on_ticket) == 1;
}

}  // namespace hive::detail

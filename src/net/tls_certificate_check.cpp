#include "net/tls_certificate_check.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <vector>

namespace hive::detail {

namespace {

// "certificate 2 in the file (/CN=Example Intermediate)": how the messages point at one.
std::string cert_in_file(const std::vector<X509*>& all, std::size_t i) {
  char name[256];
  X509_NAME_oneline(X509_get_subject_name(all[i]), name, sizeof name);
  if (i == 0) return std::string("the certificate (") + name + ")";
  return "certificate " + std::to_string(i + 1) + " in the file (" + name + ")";
}

std::string check_cert_dates(const std::vector<X509*>& all, std::size_t i) {
  X509* x = all[i];
  if (X509_cmp_current_time(X509_get0_notAfter(x)) <= 0) return cert_in_file(all, i) + " has expired; renew it";
  if (X509_cmp_current_time(X509_get0_notBefore(x)) >= 0) {
    return cert_in_file(all, i) + " is not valid yet (check the clock)";
  }
  return {};
}

// Did all[i + 1] issue all[i], names, key identifiers, key usage and signature?
std::string check_chain_link(const std::vector<X509*>& all, std::size_t i) {
  X509* subject = all[i];
  X509* issuer = all[i + 1];
  const int why = X509_check_issued(issuer, subject);
  std::string problem;
  if (why != X509_V_OK) {
    problem = X509_verify_cert_error_string(why);
  } else {
    EVP_PKEY* key = X509_get0_pubkey(issuer);
    if (key == nullptr || X509_verify(subject, key) != 1) problem = "its signature does not verify";
  }
  ERR_clear_error();
  if (problem.empty()) return {};
  return cert_in_file(all, i + 1) + " did not issue " + cert_in_file(all, i) + " (" + problem +
         "): the chain does not verify the leaf; list the leaf first, then the intermediate that "
         "issued it, and so on";
}

}  // namespace

std::string check_certificate_chain(SSL_CTX* ctx, const std::string& label) {
  const std::string prefix = "--tls-cert " + label + ": ";
  X509* leaf = SSL_CTX_get0_certificate(ctx);
  if (leaf == nullptr) return prefix + "no certificate in the file";
  std::vector<X509*> all{leaf};
  STACK_OF(X509)* chain = nullptr;
  SSL_CTX_get0_chain_certs(ctx, &chain);
  for (int i = 0; chain != nullptr && i < sk_X509_num(chain); ++i) all.push_back(sk_X509_value(chain, i));
  for (std::size_t i = 0; i < all.size(); ++i) {
    std::string error = check_cert_dates(all, i);
    if (error.empty() && i + 1 < all.size()) error = check_chain_link(all, i);
    if (!error.empty()) return prefix + error;
  }
  return {};
}

}  // namespace hive::detail

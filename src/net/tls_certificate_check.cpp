#include "net/tls_certificate_check.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <vector>

#include "util/log.hpp"

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

// Why `issuer` did not issue and sign `subject`: names, key identifiers, key usage, signature.
// Empty when it did.
std::string issue_problem(X509* issuer, X509* subject) {
  const int why = X509_check_issued(issuer, subject);
  std::string problem;
  if (why != X509_V_OK) {
    problem = X509_verify_cert_error_string(why);
  } else {
    EVP_PKEY* key = X509_get0_pubkey(issuer);
    if (key == nullptr || X509_verify(subject, key) != 1) problem = "its signature does not verify";
  }
  ERR_clear_error();
  return problem;
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
  if (std::string error = check_cert_dates(all, 0); !error.empty()) return prefix + error;
  // Up from the leaf, each certificate's issuer wherever it is in the file, until a self-signed
  // one or one whose issuer the file does not hold (a root the clients know).
  std::vector<bool> on_path(all.size(), false);
  on_path[0] = true;
  std::size_t at = 0;
  for (int depth = 0;; ++depth) {
    std::size_t issuer = 0;
    for (std::size_t j = 1; j < all.size() && issuer == 0; ++j) {
      if (!on_path[j] && issue_problem(all[j], all[at]).empty()) issuer = j;
    }
    if (issuer == 0) {
      if (depth == 0 && all.size() > 1) {
        return prefix + cert_in_file(all, 1) + " did not issue " + cert_in_file(all, 0) + " (" +
               issue_problem(all[1], all[0]) +
               "): the chain does not verify the leaf; list the leaf first, then the intermediate that "
               "issued it, and so on";
      }
      break;
    }
    on_path[issuer] = true;
    if (std::string error = check_cert_dates(all, issuer); !error.empty()) {
      // The leaf's own issuer is what every client checks; above it a client may stop at a root
      // it trusts (a cross-signed root past its dates is common and harmless to most).
      if (depth == 0) return prefix + error;
      warn(prefix, error, " (clients that trust a root below it do not mind)");
    }
    if (issuer != at + 1) warn(prefix, cert_in_file(all, issuer), " is out of order in the file (clients cope)");
    if (X509_check_issued(all[issuer], all[issuer]) == X509_V_OK) break;  // self-signed: a root
    at = issuer;
  }
  ERR_clear_error();
  for (std::size_t j = 1; j < all.size(); ++j) {
    if (!on_path[j]) warn(prefix, cert_in_file(all, j), " is not in the leaf's chain; it is sent anyway");
  }
  return {};
}

}  // namespace hive::detail

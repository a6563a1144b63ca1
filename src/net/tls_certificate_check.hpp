// What the primary checks in a loaded certificate chain before forking (and before a reload):
// every certificate in the file is within its dates, and each one is issued and signed by the
// next, so that the chain a client receives verifies the leaf. Clients would refuse an expired
// certificate or a wrong intermediate anyway, one handshake at a time; refusing at start says
// which file and what is wrong, once.
#pragma once

#include <string>

using SSL_CTX = struct ssl_ctx_st;

namespace hive::detail {

// Empty when the chain loaded into `ctx` is good; else "--tls-cert LABEL: what is wrong".
// The last certificate in the file need not be a root (a root the clients know may be left
// out): only the links present are checked, not trust in a root.
std::string check_certificate_chain(SSL_CTX* ctx, const std::string& label);

}  // namespace hive::detail

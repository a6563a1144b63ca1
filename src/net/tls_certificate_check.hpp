// What the primary checks in a loaded certificate chain before forking (and before a reload):
// the leaf is within its dates, and when the file holds more certificates, one of them issued and
// signed the leaf and is within its dates too — what every client needs to verify the leaf.
// Clients would refuse an expired leaf or a wrong intermediate anyway, one handshake at a time;
// refusing at start says which file and what is wrong, once. Higher up the file is only warned
// about: an expired cross-signed root at the end (Let's Encrypt's DST chain), a spare certificate
// or one out of order are tolerated by clients (RFC 8446 §4.4.2), which stop at a root they trust.
#pragma once

#include <string>

using SSL_CTX = struct ssl_ctx_st;

namespace hive::detail {

// Empty when the chain loaded into `ctx` is good; else "--tls-cert LABEL: what is wrong".
// The last certificate in the file need not be a root (a root the clients know may be left
// out): only the links present are checked, not trust in a root. Warnings are logged.
std::string check_certificate_chain(SSL_CTX* ctx, const std::string& label);

}  // namespace hive::detail

// Kernel TLS: can this process hand its TLS records to the kernel (Linux's `tls` module, OpenSSL
// built with kTLS)? Then OpenSSL installs the session keys in the socket after each handshake
// (SSL_OP_ENABLE_KTLS), the kernel encrypts, and a file body goes out with sendfile over HTTPS
// as it does over plain HTTP: no copy through user space.
#pragma once

#include <string>

namespace hive::detail {

struct kernel_tls_support {
  bool available = false;
  std::string why;  // what the answer rests on, for the start-up log line
};

// Asked once per process (the primary's answer is inherited by its workers): setsockopt
// TCP_ULP "tls" on a fresh, unconnected TCP socket fails with ENOTCONN when the kernel has the
// module (it loads it on demand) and with ENOENT when it has none.
const kernel_tls_support& kernel_tls();

// The start-up line: "kernel TLS: on …", "kernel TLS: unavailable (…)" or "kernel TLS: off".
std::string kernel_tls_line(bool wanted);

}  // namespace hive::detail

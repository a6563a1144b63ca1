#include "net/tls_kernel.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/opensslconf.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace hive::detail {

namespace {

kernel_tls_support probe_kernel_tls() {
#ifdef OPENSSL_NO_KTLS
  return {false, "OpenSSL was built without kTLS"};
#else
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return {false, std::string("cannot make a probe socket: ") + std::strerror(errno)};
  // The kernel finds (or loads) the ULP first, then refuses it on a socket that is not
  // connected: ENOTCONN means "the module is there".
  const int r = ::setsockopt(fd, IPPROTO_TCP, TCP_ULP, "tls", 3);
  const int e = errno;
  ::close(fd);
  if (r == 0 || e == ENOTCONN) return {true, "the kernel has the tls module"};
  if (e == ENOENT) {
    return {false, "the kernel has no tls module (setsockopt TCP_ULP \"tls\": " + std::string(std::strerror(e)) + ")"};
  }
  return {false, "setsockopt TCP_ULP \"tls\": " + std::string(std::strerror(e))};
#endif
}

}  // namespace

const kernel_tls_support& kernel_tls() {
  static const kernel_tls_support answer = probe_kernel_tls();
  return answer;
}

std::string kernel_tls_line(bool wanted) {
  if (!wanted) return "kernel TLS: off (--tls-kernel off); files over HTTPS are read and encrypted in user space";
  const auto& k = kernel_tls();
  if (k.available) return "kernel TLS: on where the cipher allows (" + k.why + "); files over HTTPS go out with sendfile";
  return "kernel TLS: unavailable: " + k.why + "; files over HTTPS are read and encrypted in user space";
}

}  // namespace hive::detail

// Random TLS records against a live HTTPS server: examples/hello with a certificate made here by
// `openssl req` (no key is committed). Record headers of every content type and version around
// random bodies, real ClientHellos with random bytes flipped, and random records after a good
// ClientHello, 50 connections at a time. Every connection must end (an alert or a close) within
// the header timeout and a margin, a real TLS client must be served throughout, and the worker's
// memory must not grow.
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "abuse/abuse.hpp"

using namespace std::chrono_literals;

namespace tls_records {

struct tls_files {
  std::string dir, cert, key;
  ~tls_files() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

void make_tls_files(tls_files& f) {
  char dir[] = "/tmp/hive-abuse-tls-XXXXXX";
  REQUIRE(::mkdtemp(dir) != nullptr);
  f.dir = dir;
  f.cert = f.dir + "/cert.pem";
  f.key = f.dir + "/key.pem";
  const std::string cmd = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
                          "-subj /CN=localhost -keyout '" + f.key + "' -out '" + f.cert + "' >/dev/null 2>&1";
  REQUIRE(std::system(cmd.c_str()) == 0);
}

// The ClientHello a real client sends (OpenSSL through memory BIOs): the seed for mutations.
std::string real_client_hello(SSL_CTX* cctx) {
  SSL* ssl = SSL_new(cctx);
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, in, out);
  SSL_set_connect_state(ssl);
  SSL_set_tlsext_host_name(ssl, "localhost");
  (void)SSL_do_handshake(ssl);  // writes the hello, then wants the server's answer
  char* data = nullptr;
  const long n = BIO_get_mem_data(out, &data);
  std::string hello(data, static_cast<std::size_t>(n > 0 ? n : 0));
  SSL_free(ssl);
  ERR_clear_error();
  return hello;
}

// A record header (any type, a plausible or random version, the length of what follows) around
// random bytes.
std::string random_record(std::mt19937& rng) {
  static const unsigned char types[] = {20, 21, 22, 23, 24};
  const unsigned char type = rng() % 6 == 0 ? static_cast<unsigned char>(rng()) : types[rng() % 5];
  const std::size_t len = rng() % 700;
  std::string r{static_cast<char>(type), 3, static_cast<char>(rng() % 5),
                static_cast<char>(len >> 8), static_cast<char>(len & 0xff)};
  for (std::size_t i = 0; i < len; ++i) r += static_cast<char>(rng());
  return r;
}

std::string attack(int kind, const std::string& hello, std::mt19937& rng) {
  std::string bytes;
  switch (kind) {
    case 0:  // records alone
      for (unsigned n = 1 + rng() % 3; n > 0; --n) bytes += random_record(rng);
      break;
    case 1:  // a real hello with 1 to 8 bytes flipped anywhere (lengths, versions, extensions)
      bytes = hello;
      for (unsigned n = 1 + rng() % 8; n > 0; --n) bytes[rng() % bytes.size()] ^= static_cast<char>(1 + rng() % 255);
      break;
    default:  // a good hello, then random records where the client's second flight belongs
      bytes = hello;
      for (unsigned n = 1 + rng() % 3; n > 0; --n) bytes += random_record(rng);
      break;
  }
  return bytes;
}

// True once the server ends the connection (EOF or reset), reading whatever it sends meanwhile.
bool ends_within(int fd, std::chrono::steady_clock::time_point deadline) {
  char buf[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return true;
  }
}

// One request through a real TLS client: true when "Hello, world!" comes back.
bool served(std::uint16_t port, SSL_CTX* cctx) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  bool ok = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    SSL* ssl = SSL_new(cctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, "localhost");
    static const char req[] = "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    if (SSL_connect(ssl) == 1 && SSL_write(ssl, req, sizeof req - 1) > 0) {
      std::string got;
      char buf[1024];
      int n = 0;
      while ((n = SSL_read(ssl, buf, sizeof buf)) > 0) got.append(buf, static_cast<std::size_t>(n));
      ok = got.starts_with("HTTP/1.1 200") && got.ends_with("Hello, world!\n");
    }
    SSL_free(ssl);
  }
  ERR_clear_error();
  ::close(fd);
  return ok;
}

}  // namespace tls_records


TEST_CASE("abuse: random TLS records end in an alert or a close, and HTTPS keeps being served") {
  abuse::raise_nofile();
  tls_records::tls_files files;
  tls_records::make_tls_files(files);
  abuse::hello srv({"--tls-cert", "'" + files.cert + "'", "--tls-key", "'" + files.key + "'",
                    "--header-timeout", "2s"});
  SSL_CTX* cctx = SSL_CTX_new(TLS_client_method());
  REQUIRE(cctx != nullptr);
  const std::string hello = tls_records::real_client_hello(cctx);
  REQUIRE(hello.size() > 100);
  REQUIRE(tls_records::served(srv.port(), cctx));
  const std::size_t rss_before = abuse::rss_bytes(srv.pid());

  std::mt19937 rng(1111);
  int stuck = 0;
  int sent = 0;
  int served_between = 0;
  constexpr int batches = 4;
  constexpr int per_batch = 50;
  for (int b = 0; b < batches; ++b) {
    std::vector<int> fds;
    for (int i = 0; i < per_batch; ++i) {
      const int fd = abuse::open_client(srv.port());
      REQUIRE(fd >= 0);
      if (abuse::send_some(fd, tls_records::attack(i % 3, hello, rng)) > 0) ++sent;
      fds.push_back(fd);
    }
    served_between += tls_records::served(srv.port(), cctx) ? 1 : 0;
    // A stalled handshake ends at the 2 s header timeout; everything else at once.
    const auto deadline = std::chrono::steady_clock::now() + 6s;
    for (const int fd : fds) {
      if (!tls_records::ends_within(fd, deadline)) ++stuck;
      ::close(fd);
    }
  }
  MESSAGE(sent << " connections of random records; " << stuck << " left open");
  CHECK(sent == batches * per_batch);
  CHECK(stuck == 0);
  CHECK(served_between == batches);
  CHECK(::kill(srv.pid(), 0) == 0);
  CHECK(tls_records::served(srv.port(), cctx));
  const std::size_t rss_after = abuse::rss_bytes(srv.pid());
  MESSAGE("worker RSS " << rss_before / 1024 << " KiB before, " << rss_after / 1024 << " KiB after");
  if (abuse::rss_meaningful) CHECK(rss_after < rss_before + 8 * 1024 * 1024);
  SSL_CTX_free(cctx);
}

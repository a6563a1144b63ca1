// A raw WebSocket client for the case suite: it writes frames byte for byte as a test says
// (masked or not, any bits, any split) and reads the server's frames and its closing of TCP.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hive::wstest {

struct frame {
  int op = -1;  // -1: the connection closed (EOF or reset) before a frame; -2: timed out
  bool fin = false;
  int rsv = 0;  // RSV1..3 as 0x40, 0x20, 0x10
  std::string payload;
  int close_code() const {
    if (op != 8 || payload.size() < 2) return op == 8 ? 1005 : -1;
    return (static_cast<unsigned char>(payload[0]) << 8) | static_cast<unsigned char>(payload[1]);
  }
};

// A frame as a client sends it; `mask` false leaves it unmasked.
inline std::string make_frame(int op, std::string_view payload, bool fin = true, bool mask = true, int rsv = 0,
                              bool force_64 = false) {
  std::string f;
  f += static_cast<char>((fin ? 0x80 : 0) | rsv | op);
  const std::uint64_t n = payload.size();
  const char m = mask ? static_cast<char>(0x80) : 0;
  if (n < 126 && !force_64) {
    f += static_cast<char>(m | static_cast<char>(n));
  } else if (n <= 0xFFFF && !force_64) {
    f += static_cast<char>(m | 126);
    f += static_cast<char>(n >> 8);
    f += static_cast<char>(n);
  } else {
    f += static_cast<char>(m | 127);
    for (int s = 56; s >= 0; s -= 8) f += static_cast<char>(n >> s);
  }
  const unsigned char key[4] = {0x37, 0xfa, 0x21, 0x3d};
  if (mask) f.append(reinterpret_cast<const char*>(key), 4);
  for (std::size_t i = 0; i < payload.size(); ++i) {
    f += mask ? static_cast<char>(payload[i] ^ key[i % 4]) : payload[i];
  }
  return f;
}

inline std::string close_payload(int code, std::string_view reason = {}) {
  std::string p;
  p += static_cast<char>(code >> 8);
  p += static_cast<char>(code & 0xFF);
  p += reason;
  return p;
}

class raw_ws {
 public:
  // `rcvbuf` > 0: a small receive buffer, for a client that reads slowly or never.
  explicit raw_ws(std::uint16_t port, int rcvbuf = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~raw_ws() {
    if (fd_ >= 0) ::close(fd_);
  }
  raw_ws(const raw_ws&) = delete;
  raw_ws& operator=(const raw_ws&) = delete;

  int fd() const { return fd_; }

  static std::string request(std::string_view path, std::string_view extra = {}) {
    std::string r = "GET " + std::string(path) + " HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n"
                    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    "Sec-WebSocket-Version: 13\r\n";
    r += extra;
    r += "\r\n";
    return r;
  }

  // Sends the handshake (and `after`, in the same write) and reads the response head.
  std::string handshake(std::string_view path, std::string_view extra = {}, std::string_view after = {}) {
    send(request(path, extra) + std::string(after));
    return read_head();
  }

  std::string read_head(std::chrono::milliseconds t = std::chrono::milliseconds(3000)) {
    const auto deadline = std::chrono::steady_clock::now() + t;
    while (true) {
      const auto end = buf_.find("\r\n\r\n");
      if (end != std::string::npos) {
        std::string head = buf_.substr(0, end + 4);
        buf_.erase(0, end + 4);
        return head;
      }
      if (!fill(deadline)) return buf_;
    }
  }

  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  // One byte per write, with a pause: every split point of the parser.
  bool send_bytewise(std::string_view bytes) {
    for (char c : bytes) {
      if (!send({&c, 1})) return false;
      ::usleep(200);
    }
    return true;
  }

  frame read_frame(std::chrono::milliseconds t = std::chrono::milliseconds(3000)) {
    const auto deadline = std::chrono::steady_clock::now() + t;
    while (true) {
      if (auto f = parse()) return *f;
      if (!fill(deadline)) {
        frame f;
        f.op = closed_ ? -1 : -2;
        return f;
      }
    }
  }

  // True when the server closes TCP within `t` (after any frames, which are discarded).
  bool wait_eof(std::chrono::milliseconds t = std::chrono::milliseconds(3000)) {
    const auto deadline = std::chrono::steady_clock::now() + t;
    while (!closed_) {
      buf_.clear();
      if (!fill(deadline) && !closed_) return false;
    }
    return true;
  }

 private:
  std::optional<frame> parse() {
    if (buf_.size() < 2) return std::nullopt;
    const auto* b = reinterpret_cast<const unsigned char*>(buf_.data());
    std::uint64_t len = b[1] & 0x7F;
    std::size_t at = 2;
    if (len == 126) {
      if (buf_.size() < 4) return std::nullopt;
      len = (std::uint64_t{b[2]} << 8) | b[3];
      at = 4;
    } else if (len == 127) {
      if (buf_.size() < 10) return std::nullopt;
      len = 0;
      for (int k = 0; k < 8; ++k) len = (len << 8) | b[2 + k];
      at = 10;
    }
    if (buf_.size() < at + len) return std::nullopt;
    frame f;
    f.fin = (b[0] & 0x80) != 0;
    f.op = b[0] & 0x0F;
    f.rsv = b[0] & 0x70;
    f.payload = buf_.substr(at, len);
    buf_.erase(0, at + len);
    return f;
  }

  bool fill(std::chrono::steady_clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char tmp[65536];
    const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) {
      closed_ = true;
      return false;
    }
    buf_.append(tmp, static_cast<std::size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool closed_ = false;
  std::string buf_;
};

}  // namespace hive::wstest

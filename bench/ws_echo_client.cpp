// WebSocket echo load: C connections (default 64) each send a masked 32-byte text frame and wait
// for its echo, for D seconds; prints round trips per second. One thread and epoll, so that the
// client costs little next to the server it measures (pin them to different cores).
//
//   ws_echo_client <port> [connections=64] [seconds=5] [path=/ws/echo]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

struct conn {
  int fd = -1;
  std::string in;
  bool upgraded = false;
};

std::string masked_frame(const std::string& payload) {
  std::string f;
  f += static_cast<char>(0x81);
  f += static_cast<char>(0x80 | payload.size());
  const char key[4] = {1, 2, 3, 4};
  f.append(key, 4);
  for (std::size_t i = 0; i < payload.size(); ++i) f += static_cast<char>(payload[i] ^ key[i % 4]);
  return f;
}

bool send_all(int fd, const std::string& s) { return ::send(fd, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size()); }

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: ws_echo_client <port> [connections] [seconds] [path]\n");
    return 2;
  }
  const int port = std::atoi(argv[1]);
  const int n = argc > 2 ? std::atoi(argv[2]) : 64;
  const int seconds = argc > 3 ? std::atoi(argv[3]) : 5;
  const std::string path = argc > 4 ? argv[4] : "/ws/echo";
  const std::string frame = masked_frame(std::string(32, 'x'));
  const std::size_t echo_size = 2 + 32;
  const std::string handshake = "GET " + path + " HTTP/1.1\r\nHost: b\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  const int ep = epoll_create1(0);
  std::vector<conn> cs(n);
  for (int i = 0; i < n; ++i) {
    cs[i].fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(cs[i].fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      std::perror("connect");
      return 1;
    }
    int one = 1;
    setsockopt(cs[i].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    send_all(cs[i].fd, handshake);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<std::uint32_t>(i);
    epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
  }
  using clock = std::chrono::steady_clock;
  clock::time_point start{}, end{};
  int upgraded = 0;
  long long trips = 0;
  bool measuring = false;
  epoll_event evs[256];
  char buf[65536];
  while (true) {
    const int k = epoll_wait(ep, evs, 256, 5000);
    if (k <= 0) {
      std::fprintf(stderr, "ws_echo_client: stalled\n");
      return 1;
    }
    const auto now = clock::now();
    if (measuring && now >= end) break;
    for (int e = 0; e < k; ++e) {
      conn& c = cs[evs[e].data.u32];
      const ssize_t r = ::recv(c.fd, buf, sizeof buf, 0);
      if (r <= 0) {
        std::fprintf(stderr, "ws_echo_client: the server closed a connection\n");
        return 1;
      }
      c.in.append(buf, static_cast<std::size_t>(r));
      if (!c.upgraded) {
        const auto h = c.in.find("\r\n\r\n");
        if (h == std::string::npos) continue;
        c.in.erase(0, h + 4);
        c.upgraded = true;
        if (++upgraded == n) {
          measuring = true;
          start = clock::now();
          end = start + std::chrono::seconds(seconds);
          for (auto& x : cs) send_all(x.fd, frame);
        }
        continue;
      }
      while (c.in.size() >= echo_size) {
        c.in.erase(0, echo_size);
        ++trips;
        send_all(c.fd, frame);
      }
    }
  }
  const double secs = std::chrono::duration<double>(clock::now() - start).count();
  std::printf("%d connections, 32-byte messages: %.0f round trips/s\n", n, trips / secs);
  return 0;
}

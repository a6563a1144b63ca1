// WebSocket broadcast fan-out load: S subscribers (default 1,000) and one publisher connect to a
// chat path where every text message goes to every connection; the publisher sends 32-byte
// messages, keeping at most W (default 16) messages' worth of deliveries outstanding, for D
// seconds; prints messages delivered to the subscribers per second. One thread and epoll.
//
//   ws_fanout_client <port> [subscribers=1000] [seconds=5] [path=/ws/chat] [window=16]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr std::size_t msg_bytes = 32;
constexpr std::size_t frame_bytes = 2 + msg_bytes;  // what the server sends per message

struct conn {
  int fd = -1;
  std::string head;     // the 101 until it is whole
  bool upgraded = false;
  std::size_t bytes = 0;  // frame bytes received since the upgrade
};

std::string masked_frame(const std::string& payload) {
  std::string f;
  f += static_cast<char>(0x81);
  f += static_cast<char>(0x80 | payload.size());
  const char key[4] = {5, 6, 7, 8};
  f.append(key, 4);
  for (std::size_t i = 0; i < payload.size(); ++i) f += static_cast<char>(payload[i] ^ key[i % 4]);
  return f;
}

bool send_all(int fd, const std::string& s) { return ::send(fd, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size()); }

int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    std::perror("connect");
    std::exit(1);
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: ws_fanout_client <port> [subscribers] [seconds] [path] [window]\n");
    return 2;
  }
  const int port = std::atoi(argv[1]);
  const int subs = argc > 2 ? std::atoi(argv[2]) : 1000;
  const int seconds = argc > 3 ? std::atoi(argv[3]) : 5;
  const std::string path = argc > 4 ? argv[4] : "/ws/chat";
  const long long window = argc > 5 ? std::atoll(argv[5]) : 16;
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  const std::string handshake = "GET " + path + " HTTP/1.1\r\nHost: b\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  const int ep = epoll_create1(0);
  const int n = subs + 1;  // the last is the publisher (it hears its own messages too)
  std::vector<conn> cs(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    cs[i].fd = connect_to(port);
    send_all(cs[i].fd, handshake);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<std::uint32_t>(i);
    epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
  }
  conn& pub = cs[static_cast<std::size_t>(subs)];
  using clock = std::chrono::steady_clock;
  int upgraded = 0;
  long long sent = 0, delivered = 0, delivered_at_start = 0;
  // Phases: upgrading, warming (one message must reach everyone: in a cluster each worker joins
  // the topic at its first subscriber), measuring.
  enum class phase { upgrading, warming, measuring } ph = phase::upgrading;
  clock::time_point start{}, end{};
  epoll_event evs[512];
  static char buf[1 << 16];
  std::string msg(msg_bytes, 'm');
  auto publish = [&] {
    std::snprintf(msg.data(), msg.size(), "%031lld", sent);
    send_all(pub.fd, masked_frame(msg));
    ++sent;
  };
  auto warm_deadline = clock::now() + std::chrono::seconds(30);
  while (true) {
    const int k = epoll_wait(ep, evs, 512, 200);
    const auto now = clock::now();
    if (k < 0) return 1;
    if (ph == phase::measuring && now >= end) break;
    if (ph == phase::warming) {
      if (now > warm_deadline) {
        std::fprintf(stderr, "ws_fanout_client: a subscriber heard nothing in 30 s\n");
        return 1;
      }
      if (k == 0) publish();  // resend while some worker is still joining
    }
    for (int e = 0; e < k; ++e) {
      conn& c = cs[evs[e].data.u32];
      const ssize_t r = ::recv(c.fd, buf, sizeof buf, 0);
      if (r <= 0) {
        std::fprintf(stderr, "ws_fanout_client: the server closed a connection\n");
        return 1;
      }
      std::size_t got = static_cast<std::size_t>(r);
      const char* p = buf;
      if (!c.upgraded) {
        c.head.append(p, got);
        const auto h = c.head.find("\r\n\r\n");
        if (h == std::string::npos) continue;
        got = c.head.size() - (h + 4);
        c.upgraded = true;
        c.head.clear();
        if (++upgraded == n) {
          ph = phase::warming;
          publish();
        }
        continue;  // nothing was published before every connection upgraded
      }
      const std::size_t before = c.bytes / frame_bytes;
      c.bytes += got;
      if (&c != &pub) delivered += static_cast<long long>(c.bytes / frame_bytes - before);
    }
    if (ph == phase::warming) {
      bool all = true;
      for (int i = 0; i < subs && all; ++i) all = cs[i].bytes >= frame_bytes;
      if (all) {
        ph = phase::measuring;
        start = clock::now();
        end = start + std::chrono::seconds(seconds);
        delivered_at_start = delivered;
        sent = 0;
        for (auto& c : cs) c.bytes = c.bytes / frame_bytes * frame_bytes;  // (whole frames: 34 B each)
      }
    }
    if (ph == phase::measuring) {
      // Keep `window` messages' deliveries outstanding at most: the slowest subscriber paces it.
      while ((sent - window) * subs < delivered - delivered_at_start) publish();
    }
  }
  const double secs = std::chrono::duration<double>(clock::now() - start).count();
  std::printf("%d subscribers, 32-byte messages: %.0f deliveries/s (%lld messages published)\n", subs,
              static_cast<double>(delivered - delivered_at_start) / secs, sent);
  return 0;
}

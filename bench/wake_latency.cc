// wake_latency — from a packet enqueued on another thread to its first byte at the peer.
//
//   wake_latency [--samples=10000]
//
// The loop waits with a 30 s timeout (asyncore's default) and nothing else to do; a producer
// thread enqueues one packet, a blocking reader thread on the peer socket timestamps the first
// byte; the difference is the latency. Two paths:
//   DouyuClient::send_packet   the client's thread-safe send queue (mutex + Loop::wake())
//   call_soon_threadsafe+send  a BufferedDispatcher written to through Loop::call_soon_threadsafe
// Samples are spaced by a random 0-200 us pause so the loop is really asleep each time.
// Prints median, p99 and max in microseconds. bench/asyncore_latency.py measures Python asyncore's
// answer to the same question (it cannot be woken: the packet waits for the poll timeout).
#include <arpa/inet.h>
#include <glog/logging.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "client/buffered_dispatcher.h"
#include "core/loop.h"
#include "douyu/client/douyu_client.h"
#include "douyu/protocol/requests.h"

namespace {

using Clock = std::chrono::steady_clock;

// The peer: reads blocking; publishes the time each read returned.
struct Reader {
  int fd;
  std::atomic<int64_t> last_ns{0};
  std::atomic<uint64_t> bytes{0};
  std::thread thread;
  explicit Reader(int f) : fd(f) {
    thread = std::thread([this] {
      char buf[4096];
      for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) return;
        last_ns.store(Clock::now().time_since_epoch().count(), std::memory_order_relaxed);
        bytes.fetch_add(static_cast<uint64_t>(n), std::memory_order_release);
      }
    });
  }
  ~Reader() {
    ::shutdown(fd, SHUT_RDWR);
    thread.join();
    ::close(fd);
  }
};

struct Stats {
  double median_us, p99_us, max_us;
};

Stats summarize(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v[v.size() * 99 / 100], v.back()};
}

// Enqueues `samples` times with `enqueue`, waiting for `bytes_each` bytes at the reader each time.
template <class Enqueue>
Stats measure(Reader& reader, int samples, size_t bytes_each, Enqueue&& enqueue) {
  std::mt19937 rng(1);
  std::uniform_int_distribution<int> pause_us(0, 200);
  std::vector<double> lat;
  lat.reserve(static_cast<size_t>(samples));
  uint64_t expect = reader.bytes.load(std::memory_order_acquire);
  for (int i = 0; i < samples; ++i) {
    std::this_thread::sleep_for(std::chrono::microseconds(50 + pause_us(rng)));
    const int64_t t0 = Clock::now().time_since_epoch().count();
    enqueue();
    expect += bytes_each;
    while (reader.bytes.load(std::memory_order_acquire) < expect) {
    }
    // The first byte of this packet is what the read that completed it saw (packets are tiny:
    // one segment, one read).
    lat.push_back(static_cast<double>(reader.last_ns.load(std::memory_order_relaxed) - t0) / 1e3);
  }
  return summarize(std::move(lat));
}

int listen_loopback(uint16_t& port) {
  const int lfd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(lfd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  ::listen(lfd, 8);
  socklen_t len = sizeof sa;
  ::getsockname(lfd, reinterpret_cast<sockaddr*>(&sa), &len);
  port = ntohs(sa.sin_port);
  return lfd;
}

class Sender : public asyncore::BufferedDispatcher {
 public:
  using BufferedDispatcher::BufferedDispatcher;
  void handle_read() override {
    char buf[256];
    recv(buf, sizeof buf);
  }
};

}  // namespace

int main(int argc, char** argv) {
  google::InitGoogleLogging(argv[0]);
  FLAGS_minloglevel = 2;  // the client's session logs are not part of the measurement
  int samples = 10000;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--samples=", 10) == 0) samples = std::atoi(argv[i] + 10);
  }

  std::printf("%-40s %10s %10s %10s\n", "path (loop waiting, timeout 30 s)", "median us", "p99 us",
              "max us");

  // 1. DouyuClient::send_packet.
  {
    uint16_t port = 0;
    const int lfd = listen_loopback(port);
    asyncore::Loop loop;
    asyncore::douyu::DouyuClientOptions o;
    o.host = "127.0.0.1";
    o.port = port;
    o.room_id = "9999";
    o.heartbeat_interval = std::chrono::hours(1);  // no heartbeat during the measurement
    o.reconnect = false;
    asyncore::douyu::DouyuClient client(loop, o, [](const asyncore::douyu::Message&) {});
    client.start();
    std::thread loop_thread([&] { loop.loop(30.0); });
    const int peer = ::accept(lfd, nullptr, nullptr);
    int one = 1;
    ::setsockopt(peer, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    Reader reader(peer);
    const size_t login = asyncore::douyu::loginreq("9999").bytes().size();
    while (reader.bytes.load() < login) std::this_thread::yield();
    const asyncore::douyu::Packet packet = asyncore::douyu::mrkl();
    const Stats s =
        measure(reader, samples, packet.bytes().size(), [&] { client.send_packet(packet); });
    std::printf("%-40s %10.1f %10.1f %10.1f\n", "DouyuClient::send_packet", s.median_us, s.p99_us,
                s.max_us);
    client.stop();  // logout, flush, close
    for (int i = 0; i < 300 && !client.stopped(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    loop.stop();
    loop_thread.join();
    client.join();
    ::close(lfd);
  }

  // 2. call_soon_threadsafe + BufferedDispatcher::send.
  {
    int sv[2];
    ::socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    asyncore::Loop loop;
    Sender sender(loop, asyncore::Socket(sv[0]));
    Reader reader(sv[1]);
    std::thread loop_thread([&] { loop.loop(30.0); });
    const Stats s = measure(reader, samples, 8, [&] {
      loop.call_soon_threadsafe([&] { sender.send("12345678", 8); });
    });
    std::printf("%-40s %10.1f %10.1f %10.1f\n", "call_soon_threadsafe + send (unix socket)",
                s.median_us, s.p99_us, s.max_us);
    loop.call_soon_threadsafe([&] {
      sender.close();
      loop.stop();
    });
    loop_thread.join();
  }
  return 0;
}

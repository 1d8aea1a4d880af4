// raw_reader — "the physical limit of this pipe" for the end-to-end barrage benchmark.
//
//   raw_reader HOST PORT N
//
// Speaks just enough Douyu to get the stream going (loginreq + joingroup for room 9999, one
// write), then read()s the socket into one reused 256 KiB buffer and discards the bytes. It walks
// the frame headers only to know when N room messages have arrived (the few bytes of each header
// are looked at; bodies are skipped, never copied or decoded), so it stops at the same point of
// the stream as the real clients. Blocking socket, one thread: the fewest syscalls and the least
// work any reader of this stream can do. Prints one line:
//   raw-reader: N messages, B bytes in S s (R msg/s, M MB/s), F reads
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "douyu/protocol/requests.h"

namespace {

// Enough of a frame's start to tell its type: 12 header bytes + "type@=loginres".
constexpr size_t kPeek = 12 + 14;

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.substr(0, prefix.size()) == prefix;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: raw_reader HOST PORT N\n");
    return 2;
  }
  const char* host = argv[1];
  const int port = std::atoi(argv[2]);
  const uint64_t want = std::strtoull(argv[3], nullptr, 10);

  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, host, &sa.sin_addr) != 1 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    std::perror("raw_reader: connect");
    return 1;
  }
  const auto start = std::chrono::steady_clock::now();
  // The simulator handles requests in order, so joingroup may follow loginreq without waiting
  // for loginres.
  const std::string hello =
      asyncore::douyu::loginreq("9999").bytes() + asyncore::douyu::joingroup("9999").bytes();
  if (::write(fd, hello.data(), hello.size()) != static_cast<ssize_t>(hello.size())) {
    std::perror("raw_reader: write");
    return 1;
  }

  std::vector<char> buffer(256 * 1024);
  std::string head;   // the first bytes of the current frame (at most kPeek)
  uint64_t skip = 0;  // bytes of the current frame still to skip after its head
  uint64_t bytes = 0, reads = 0, room = 0;
  while (room < want) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n <= 0) {
      std::fprintf(stderr, "raw_reader: stream ended after %llu messages\n",
                   static_cast<unsigned long long>(room));
      return 1;
    }
    ++reads;
    bytes += static_cast<uint64_t>(n);
    const char* p = buffer.data();
    size_t left = static_cast<size_t>(n);
    while (left > 0 && room < want) {
      if (skip > 0) {
        const size_t t = skip < left ? static_cast<size_t>(skip) : left;
        skip -= t;
        p += t;
        left -= t;
        continue;
      }
      // Collect the frame's head (it may straddle reads).
      size_t frame_size = 0;
      size_t need = 12;
      if (head.size() >= 4) {
        uint32_t len = 0;
        std::memcpy(&len, head.data(), 4);  // little-endian, as the machine
        frame_size = static_cast<size_t>(len) + 4;
        need = frame_size < kPeek ? frame_size : kPeek;
      }
      const size_t t = std::min(left, need > head.size() ? need - head.size() : 0);
      head.append(p, t);
      p += t;
      left -= t;
      if (head.size() < 4) continue;
      if (frame_size == 0) continue;  // length just completed: recompute `need` next round
      if (head.size() < need) continue;
      const std::string_view body(head.data() + 12, head.size() - 12);
      if (!starts_with(body, "type@=loginres") && !starts_with(body, "type@=pingreq") &&
          !starts_with(body, "type@=mrkl")) {
        ++room;
      }
      skip = frame_size - head.size();
      head.clear();
    }
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ::close(fd);
  std::printf(
      "raw-reader: %llu messages, %llu bytes in %.3f s (%.0f msg/s, %.1f MB/s), %llu reads\n",
      static_cast<unsigned long long>(room), static_cast<unsigned long long>(bytes), secs,
      static_cast<double>(room) / secs, static_cast<double>(bytes) / secs / 1e6,
      static_cast<unsigned long long>(reads));
  return 0;
}

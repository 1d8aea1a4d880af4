// flood_server — a producer for bench/e2e_barrage.sh that is not the bottleneck.
//
//   flood_server --port=0 --flood=N [--ring=4096] [--seed=1] [--chunk=524288] [--once]
//
// The simulator (douyu_server --flood=N) builds every frame as it goes, through its event loop:
// it burns a whole core and caps every contender. This one builds a ring of R frames ONCE, before
// accepting — the simulator's own room stream (douyu/simulator/room_stream.h: SyntheticRoom's
// realistic mix without the session types, `seq@=1..R` spliced in; the same bytes the simulator
// sends for its first R messages, ~280 B per frame) — into one contiguous buffer, then sends N of
// them per connection by walking the ring (wrapping) with sendmsg() calls of ~--chunk bytes (iovecs
// into the ring, ending on frame boundaries) on a blocking socket: no per-message work at all.
//
// Session, per connection (one after another; --once: exit after the first):
//   loginreq/roomid@=R/      → loginres as the simulator answers it (userid, roomgroup, pg, ...)
//   joingroup/rid@=R/...     → the flood: exactly N room frames (never pingreq/mrkl/loginres,
//                              so every client counts each of them as one room message)
//   mrkl/, keeplive/tick@=T/ → mrkl/, keeplive/tick@=T/ (during the flood: between two sends)
//   logout/                  → stop flooding, FIN; wait for the client's EOF (at most 2 s)
// After the N-th frame the connection stays open until the client closes it (the clients stop
// themselves after N messages). A second thread reads (and answers) the client during the
// flood, so a heartbeat never blocks it.
//
// Prints `listening on 127.0.0.1:PORT` (flushed) on stdout, as douyu_server does; on stderr, the
// ring, and per connection: frames, bytes, seconds, sends, and this process's CPU seconds so far.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "douyu/protocol/packet.h"
#include "douyu/simulator/room_stream.h"

namespace {

using asyncore::douyu::append_frame;
using asyncore::douyu::kServerToClient;

constexpr size_t kMaxRequest = 64 * 1024;  // client requests are tiny
constexpr int kMaxIov = 64;

struct Options {
  int port = 0;
  uint64_t flood = 0;
  size_t ring = 4096;
  uint64_t seed = 1;
  size_t chunk = 512 * 1024;
  bool once = false;
};

bool flag_value(const char* arg, const char* name, std::string& value) {
  const size_t n = std::strlen(name);
  if (std::strncmp(arg, name, n) != 0 || arg[n] != '=') return false;
  value = arg + n + 1;
  return true;
}

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "flood_server: %s\nusage: flood_server --port=0 --flood=N [--ring=4096] "
               "[--seed=1] [--chunk=524288] [--once]\n",
               why);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string v;
    char* end = nullptr;
    auto number = [&](const char* what) {
      errno = 0;
      const unsigned long long n = std::strtoull(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || errno != 0) usage((std::string("bad ") + what).c_str());
      return static_cast<uint64_t>(n);
    };
    if (flag_value(argv[i], "--port", v)) {
      const uint64_t p = number("--port");
      if (p > 65535) usage("--port out of range");
      o.port = static_cast<int>(p);
    } else if (flag_value(argv[i], "--flood", v)) {
      o.flood = number("--flood");
    } else if (flag_value(argv[i], "--ring", v)) {
      o.ring = static_cast<size_t>(number("--ring"));
    } else if (flag_value(argv[i], "--seed", v)) {
      o.seed = number("--seed");
    } else if (flag_value(argv[i], "--chunk", v)) {
      o.chunk = static_cast<size_t>(number("--chunk"));
    } else if (std::strcmp(argv[i], "--once") == 0) {
      o.once = true;
    } else {
      usage((std::string("unknown argument ") + argv[i]).c_str());
    }
  }
  if (o.flood == 0) usage("--flood=N (N > 0) is required");
  if (o.ring == 0) usage("--ring must be > 0");
  if (o.chunk == 0) usage("--chunk must be > 0");
  return o;
}

// The ring: R frames back to back; offsets[i] is where frame i starts, offsets[R] the end.
struct Ring {
  std::string bytes;
  std::vector<size_t> offsets;
  size_t frames() const { return offsets.size() - 1; }
};

Ring build_ring(const Options& o) {
  asyncore::douyu::RoomStream stream(o.seed, 9999);
  Ring ring;
  ring.offsets.reserve(o.ring + 1);
  for (size_t i = 1; i <= o.ring; ++i) {
    ring.offsets.push_back(ring.bytes.size());
    asyncore::douyu::append_seq_frame(ring.bytes, stream.body(i), i);
  }
  ring.offsets.push_back(ring.bytes.size());
  return ring;
}

double cpu_seconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// Blocking: sends all of `iov` (advancing it over partial sends). False: the peer is gone.
bool send_all(int fd, iovec* iov, int count) {
  while (count > 0) {
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(count);
    const ssize_t n = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    auto left = static_cast<size_t>(n);
    while (count > 0 && left >= iov->iov_len) {
      left -= iov->iov_len;
      ++iov;
      --count;
    }
    if (count > 0) {
      iov->iov_base = static_cast<char*>(iov->iov_base) + left;
      iov->iov_len -= left;
    }
  }
  return true;
}

bool send_all(int fd, std::string_view bytes) {
  iovec iov{const_cast<char*>(bytes.data()), bytes.size()};
  return send_all(fd, &iov, 1);
}

// The value of `key` in a flat STT body ("" when absent); enough for the session's requests.
std::string field(std::string_view body, std::string_view key) {
  const std::string needle = std::string(key) + "@=";
  size_t at = 0;
  while (at < body.size()) {
    const size_t end = std::min(body.find('/', at), body.size());
    const std::string_view f = body.substr(at, end - at);
    if (f.starts_with(needle)) return std::string(f.substr(needle.size()));
    at = end + 1;
  }
  return {};
}

std::string loginres(uint64_t id) {
  const std::string n = std::to_string(id);
  return "type@=loginres/userid@=" + std::to_string(100000 + id) +
         "/roomgroup@=0/pg@=0/sessionid@=" + n + "/username@=visitor" + n + "/nickname@=visitor" +
         n + "/live_stat@=1/is_illegal@=0/ill_ct@=/ill_ts@=0/now@=" +
         std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count()) +
         "/ps@=0/es@=0/it@=0/its@=0/npv@=0/best_dlev@=0/cur_lev@=0/nrc@=0/ih@=0/sid@=" + n +
         "/sahf@=0/";
}

// Splits `in` into frames; calls on_body(body) for each complete one and keeps the rest.
// False: a malformed frame (bad length).
template <typename F>
bool take_frames(std::string& in, F&& on_body) {
  size_t pos = 0;
  bool ok = true;
  while (in.size() - pos >= 4) {
    uint32_t len = 0;
    std::memcpy(&len, in.data() + pos, 4);
    if (len < asyncore::douyu::kMinLength || len > kMaxRequest) {
      ok = false;
      break;
    }
    if (in.size() - pos < len + 4) break;
    const std::string_view body(in.data() + pos + asyncore::douyu::kHeaderSize,
                                len + 4 - asyncore::douyu::kHeaderSize - 1);
    pos += len + 4;
    if (!on_body(body)) break;
  }
  in.erase(0, pos);
  return ok;
}

// What the reader thread hands the flooding thread.
struct Inbox {
  std::mutex mu;
  std::condition_variable cv;
  std::string replies;  // control frames to send at the next frame boundary
  std::atomic<bool> has_replies{false};
  std::atomic<bool> logout{false};
  std::atomic<bool> eof{false};
};

void read_requests(int fd, std::string in, Inbox& box) {
  std::vector<char> buffer(64 * 1024);
  for (;;) {
    const bool ok = take_frames(in, [&](std::string_view body) {
      const std::string type = field(body, "type");
      std::string reply;
      if (type == "mrkl") {
        append_frame(reply, "type@=mrkl/", kServerToClient);
      } else if (type == "keeplive") {
        append_frame(reply, "type@=keeplive/tick@=" + field(body, "tick") + "/", kServerToClient);
      } else if (type == "logout") {
        std::lock_guard lock(box.mu);
        box.logout = true;
        box.cv.notify_all();
      }
      if (!reply.empty()) {
        std::lock_guard lock(box.mu);
        box.replies += reply;
        box.has_replies = true;
        box.cv.notify_all();
      }
      return true;
    });
    if (!ok) {
      std::fprintf(stderr, "flood_server: malformed frame from the client\n");
      break;
    }
    const ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    in.append(buffer.data(), static_cast<size_t>(n));
  }
  std::lock_guard lock(box.mu);
  box.eof = true;
  box.cv.notify_all();
}

bool send_replies(int fd, Inbox& box) {
  std::string out;
  {
    std::lock_guard lock(box.mu);
    out.swap(box.replies);
    box.has_replies = false;
  }
  return out.empty() || send_all(fd, out);
}

void serve(int fd, uint64_t id, const Ring& ring, const Options& o) {
  // Handshake, synchronously: loginreq (answered), then joingroup.
  std::string in;
  std::vector<char> buffer(4096);
  bool joined = false, gone = false;
  while (!joined && !gone) {
    const bool ok = take_frames(in, [&](std::string_view body) {
      const std::string type = field(body, "type");
      if (type == "loginreq") {
        gone = !send_all(fd, asyncore::douyu::encode_frame(loginres(id), kServerToClient));
      } else if (type == "joingroup") {
        joined = true;
        return false;  // what follows is the reader thread's
      } else if (type == "mrkl") {
        gone = !send_all(fd, asyncore::douyu::encode_frame("type@=mrkl/", kServerToClient));
      } else if (type == "logout") {
        gone = true;
      }
      return !gone;
    });
    if (!ok) {
      std::fprintf(stderr, "flood_server: malformed frame from the client\n");
      return;
    }
    if (joined || gone) break;
    const ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    in.append(buffer.data(), static_cast<size_t>(n));
  }
  if (gone) return;

  Inbox box;
  std::thread reader(read_requests, fd, std::move(in), std::ref(box));
  const auto start = std::chrono::steady_clock::now();
  const size_t frames = ring.frames();
  const size_t* off = ring.offsets.data();
  char* base = const_cast<char*>(ring.bytes.data());
  uint64_t sent = 0, bytes = 0, sends = 0;
  size_t i = 0;  // ring index of the next frame
  iovec iov[kMaxIov];
  bool peer_gone = false;
  while (sent < o.flood && !box.logout && !box.eof) {
    if (box.has_replies && !send_replies(fd, box)) {
      peer_gone = true;
      break;
    }
    int n = 0;
    size_t chunk_bytes = 0;
    uint64_t chunk_frames = 0;
    while (n < kMaxIov && chunk_bytes < o.chunk && sent + chunk_frames < o.flood) {
      const uint64_t left = o.flood - sent - chunk_frames;
      const size_t limit = left < frames - i ? i + static_cast<size_t>(left) : frames;
      // The last frame boundary j in (i, limit] within the byte budget.
      const size_t* it =
          std::upper_bound(off + i + 1, off + limit + 1, off[i] + o.chunk - chunk_bytes);
      size_t j = static_cast<size_t>(it - off) - 1;
      if (j == i) {
        if (chunk_bytes > 0) break;
        j = i + 1;  // a frame larger than the chunk: send it alone
      }
      iov[n].iov_base = base + off[i];
      iov[n].iov_len = off[j] - off[i];
      ++n;
      chunk_bytes += off[j] - off[i];
      chunk_frames += j - i;
      i = j == frames ? 0 : j;
    }
    if (!send_all(fd, iov, n)) {
      peer_gone = true;
      break;
    }
    ++sends;
    sent += chunk_frames;
    bytes += chunk_bytes;
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  // Flood done: answer heartbeats until the client leaves; after its logout, FIN and wait for
  // its EOF at most 2 s.
  bool fin = false;
  auto fin_deadline = std::chrono::steady_clock::now();
  while (!peer_gone) {
    std::unique_lock lock(box.mu);
    if (box.eof) break;
    if (box.logout && !fin) {
      lock.unlock();
      ::shutdown(fd, SHUT_WR);
      fin = true;
      fin_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
      continue;
    }
    if (box.has_replies && !fin) {
      lock.unlock();
      peer_gone = !send_replies(fd, box);
      continue;
    }
    if (fin) {
      if (!box.cv.wait_until(lock, fin_deadline, [&] { return box.eof.load(); })) break;
    } else {
      box.cv.wait(lock, [&] { return box.eof || box.logout || box.has_replies; });
    }
  }
  ::shutdown(fd, SHUT_RDWR);  // wakes the reader if the client never closed
  reader.join();
  std::fprintf(stderr,
               "flood_server: connection %llu: %llu frames, %llu bytes in %.3f s (%.0f msg/s, "
               "%.1f MB/s), %llu sends%s; cpu %.2f s so far\n",
               static_cast<unsigned long long>(id), static_cast<unsigned long long>(sent),
               static_cast<unsigned long long>(bytes), secs,
               secs > 0 ? static_cast<double>(sent) / secs : 0.0,
               secs > 0 ? static_cast<double>(bytes) / secs / 1e6 : 0.0,
               static_cast<unsigned long long>(sends), peer_gone ? " (client left early)" : "",
               cpu_seconds());
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  const Ring ring = build_ring(o);
  std::fprintf(stderr, "flood_server: ring of %zu frames, %zu bytes (%.1f B per frame)\n",
               ring.frames(), ring.bytes.size(),
               static_cast<double>(ring.bytes.size()) / static_cast<double>(ring.frames()));

  const int lfd = ::socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  ::setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(o.port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  if (::bind(lfd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(lfd, 16) != 0 ||
      ::getsockname(lfd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
    std::perror("flood_server: listen");
    return 1;
  }
  std::printf("listening on 127.0.0.1:%u\n", static_cast<unsigned>(ntohs(sa.sin_port)));
  std::fflush(stdout);

  for (uint64_t id = 1;; ++id) {
    const int fd = ::accept(lfd, nullptr, nullptr);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      std::perror("flood_server: accept");
      return 1;
    }
    serve(fd, id, ring, o);
    ::close(fd);
    if (o.once) return 0;
  }
}

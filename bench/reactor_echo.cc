// reactor_echo — echo server + ping-pong client on asyncore (Dispatcher / BufferedDispatcher)
// against the same two programs written on bare libevent (event_new, no wrapper), in one run.
//
//   reactor_echo [--conns=1,100,1000,10000] [--sizes=64,4096,65536] [--seconds=2] [--repeat=1]
//                [--impl=both|asyncore|bare]
//
// For every connections x size, and for each contender in turn (alternating, so slow drifts of a
// shared machine hit both alike): a server process is forked (asyncore or bare libevent), the
// parent opens `conns` loopback connections to it (same blocking connect code for both) and runs
// the ping-pong client of the SAME implementation: each connection sends one `size`-byte message,
// waits until all of its echo is back, and sends the next. After a 0.3 s warm-up, round trips are
// counted for --seconds. Client and server are separate processes, so each side has its own core
// and 10,000 connections need ~10,000 descriptors per process (the soft RLIMIT_NOFILE is raised to
// the hard limit). Client sockets close with SO_LINGER 0 so runs leave no TIME_WAIT behind.
//
// Prints one table row per configuration: round trips/s and MB/s (payload echoed per second) of
// each contender, and asyncore / bare. With --repeat=R the median of R runs is shown.
#include <arpa/inet.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "client/buffered_dispatcher.h"
#include "core/dispatcher.h"
#include "core/loop.h"

namespace {

constexpr double kWarmupSeconds = 0.3;
constexpr size_t kReadChunk = 64 * 1024;

void die(const char* what) {
  std::perror(what);
  std::exit(1);
}

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }
void set_nodelay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// ============================================================ asyncore contender

// The echo connection: exactly the BufferedDispatcher example of its header.
class AsyncoreEcho : public asyncore::BufferedDispatcher {
 public:
  AsyncoreEcho(asyncore::Loop& loop, asyncore::Socket sock)
      : BufferedDispatcher(loop, std::move(sock)) {}
  void handle_read() override {
    static thread_local std::vector<char> buf(kReadChunk);
    if (ssize_t n = recv(buf.data(), buf.size()); n > 0) send(buf.data(), static_cast<size_t>(n));
  }
  void handle_close() override { close(); }
};

class AsyncoreListener : public asyncore::Dispatcher {
 public:
  explicit AsyncoreListener(asyncore::Loop& loop) : Dispatcher(loop) {
    create_socket();
    set_reuse_addr();
    bind(asyncore::Address::ipv4_loopback(0));
    listen(4096);
  }
  void handle_accept() override {
    // Drain the backlog: a connection storm of 10,000 should not take 10,000 turns.
    while (auto conn = accept()) {
      set_nodelay(conn->first.fd());
      asyncore::make_dispatcher<AsyncoreEcho>(loop(), std::move(conn->first));
    }
  }
  bool writable() override { return false; }
};

class AsyncorePinger : public asyncore::BufferedDispatcher {
 public:
  AsyncorePinger(asyncore::Loop& loop, int fd, const std::string& message, uint64_t& count)
      : BufferedDispatcher(loop, asyncore::Socket(fd)), message_(message), count_(count) {}
  void start() { send(message_); }
  void handle_read() override {
    static thread_local std::vector<char> buf(kReadChunk);
    const ssize_t n = recv(buf.data(), buf.size());
    if (n <= 0) return;
    got_ += static_cast<size_t>(n);
    if (got_ >= message_.size()) {
      got_ = 0;
      ++count_;
      send(message_);
    }
  }
  void handle_close() override { close(); }

 private:
  const std::string& message_;
  uint64_t& count_;
  size_t got_ = 0;
};

[[noreturn]] void run_asyncore_server(int port_pipe) {
  asyncore::Loop loop;
  auto listener = asyncore::make_dispatcher<AsyncoreListener>(loop);
  const uint16_t port = asyncore::Address::local_of(listener->fileno()).port();
  if (::write(port_pipe, &port, sizeof port) != sizeof port) die("write port");
  loop.loop(30.0);
  std::_Exit(0);
}

uint64_t run_asyncore_client(const std::vector<int>& fds, const std::string& message,
                             double seconds) {
  asyncore::Loop loop;
  uint64_t count = 0, at_warmup = 0;
  std::vector<std::shared_ptr<AsyncorePinger>> pingers;
  pingers.reserve(fds.size());
  for (int fd : fds) pingers.push_back(std::make_shared<AsyncorePinger>(loop, fd, message, count));
  for (auto& p : pingers) p->start();
  loop.call_later(kWarmupSeconds, [&] { at_warmup = count; });
  uint64_t at_end = 0;
  loop.call_later(kWarmupSeconds + seconds, [&] {
    at_end = count;
    loop.stop();
  });
  loop.loop(30.0);
  pingers.clear();  // closes the sockets
  return at_end - at_warmup;
}

// ============================================================ bare libevent contender

// The same echo and ping-pong, written directly on event_new(): one persistent read event per
// connection, a write event added only while output waits (as BufferedDispatcher's writable()).
struct BareConn {
  event_base* base = nullptr;
  int fd = -1;
  event* rev = nullptr;
  event* wev = nullptr;
  std::string out;  // unsent bytes
  size_t out_pos = 0;
  bool write_armed = false;
  // client side
  const std::string* message = nullptr;
  uint64_t* count = nullptr;
  size_t got = 0;
  bool owned_by_caller = false;  // client connections: freed by the driver after the run
};

void bare_close(BareConn* c) {
  if (c->fd < 0) return;  // already closed
  event_free(c->rev);
  event_free(c->wev);
  ::close(c->fd);
  c->fd = -1;
  if (!c->owned_by_caller) delete c;
}

// Sends `data` if nothing waits, keeps what the socket refused. False: the connection is gone.
bool bare_send(BareConn* c, const char* data, size_t n) {
  if (c->out_pos == c->out.size()) {
    const ssize_t w = ::send(c->fd, data, n, MSG_NOSIGNAL);
    if (w < 0 && errno != EAGAIN) return false;
    const size_t sent = w > 0 ? static_cast<size_t>(w) : 0;
    if (sent == n) return true;
    c->out.assign(data + sent, n - sent);
    c->out_pos = 0;
  } else {
    c->out.append(data, n);
  }
  if (!c->write_armed) {
    event_add(c->wev, nullptr);
    c->write_armed = true;
  }
  return true;
}

void bare_on_write(evutil_socket_t, short, void* arg) {
  auto* c = static_cast<BareConn*>(arg);
  const ssize_t w =
      ::send(c->fd, c->out.data() + c->out_pos, c->out.size() - c->out_pos, MSG_NOSIGNAL);
  if (w < 0 && errno != EAGAIN) return bare_close(c);
  if (w > 0) c->out_pos += static_cast<size_t>(w);
  if (c->out_pos == c->out.size()) {
    c->out.clear();
    c->out_pos = 0;
    event_del(c->wev);
    c->write_armed = false;
  }
}

void bare_on_echo_read(evutil_socket_t, short, void* arg) {
  auto* c = static_cast<BareConn*>(arg);
  static thread_local std::vector<char> buf(kReadChunk);
  const ssize_t n = ::recv(c->fd, buf.data(), buf.size(), 0);
  if (n == 0 || (n < 0 && errno != EAGAIN)) return bare_close(c);
  if (n > 0 && !bare_send(c, buf.data(), static_cast<size_t>(n))) bare_close(c);
}

void bare_on_ping_read(evutil_socket_t, short, void* arg) {
  auto* c = static_cast<BareConn*>(arg);
  static thread_local std::vector<char> buf(kReadChunk);
  const ssize_t n = ::recv(c->fd, buf.data(), buf.size(), 0);
  if (n == 0 || (n < 0 && errno != EAGAIN)) return bare_close(c);
  if (n < 0) return;
  c->got += static_cast<size_t>(n);
  if (c->got >= c->message->size()) {
    c->got = 0;
    ++*c->count;
    if (!bare_send(c, c->message->data(), c->message->size())) bare_close(c);
  }
}

BareConn* bare_conn(event_base* base, int fd, event_callback_fn on_read) {
  auto* c = new BareConn;
  c->base = base;
  c->fd = fd;
  c->rev = event_new(base, fd, EV_READ | EV_PERSIST, on_read, c);
  c->wev = event_new(base, fd, EV_WRITE | EV_PERSIST, &bare_on_write, c);
  event_add(c->rev, nullptr);
  return c;
}

void bare_on_accept(evutil_socket_t lfd, short, void* arg) {
  auto* base = static_cast<event_base*>(arg);
  for (;;) {
    const int fd = ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    set_nodelay(fd);
    bare_conn(base, fd, &bare_on_echo_read);
  }
}

[[noreturn]] void run_bare_server(int port_pipe) {
  event_base* base = event_base_new();
  const int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(lfd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(lfd, 4096) != 0) {
    die("bare server bind/listen");
  }
  socklen_t len = sizeof sa;
  ::getsockname(lfd, reinterpret_cast<sockaddr*>(&sa), &len);
  const uint16_t port = ntohs(sa.sin_port);
  event* lev = event_new(base, lfd, EV_READ | EV_PERSIST, &bare_on_accept, base);
  event_add(lev, nullptr);
  if (::write(port_pipe, &port, sizeof port) != sizeof port) die("write port");
  event_base_dispatch(base);
  std::_Exit(0);
}

uint64_t run_bare_client(const std::vector<int>& fds, const std::string& message, double seconds) {
  event_base* base = event_base_new();
  uint64_t count = 0;
  std::vector<BareConn*> conns;
  conns.reserve(fds.size());
  for (int fd : fds) {
    BareConn* c = bare_conn(base, fd, &bare_on_ping_read);
    c->message = &message;
    c->count = &count;
    c->owned_by_caller = true;
    conns.push_back(c);
  }
  for (BareConn* c : conns) bare_send(c, message.data(), message.size());
  struct Marks {
    event_base* base;
    uint64_t* count;
    uint64_t at_warmup = 0, at_end = 0;
  } marks{base, &count};
  timeval warm{0, static_cast<suseconds_t>(kWarmupSeconds * 1e6)};
  event_base_once(
      base, -1, EV_TIMEOUT,
      [](evutil_socket_t, short, void* a) {
        auto* m = static_cast<Marks*>(a);
        m->at_warmup = *m->count;
      },
      &marks, &warm);
  const double end = kWarmupSeconds + seconds;
  timeval stop{
      static_cast<time_t>(end),
      static_cast<suseconds_t>((end - static_cast<double>(static_cast<time_t>(end))) * 1e6)};
  event_base_once(
      base, -1, EV_TIMEOUT,
      [](evutil_socket_t, short, void* a) {
        auto* m = static_cast<Marks*>(a);
        m->at_end = *m->count;
        event_base_loopbreak(m->base);
      },
      &marks, &stop);
  event_base_dispatch(base);
  for (BareConn* c : conns) {
    bare_close(c);
    delete c;
  }
  event_base_free(base);
  return marks.at_end - marks.at_warmup;
}

// ============================================================ driver

// Connects n sockets, 500 at a time, and proves each is established on the server's side too (one
// byte echoed) before the next batch: past the accept backlog the kernel drops handshakes and the
// SYN-ACK retransmits would stall connections for seconds inside the measurement.
std::vector<int> connect_all(uint16_t port, size_t n) {
  constexpr size_t kBatch = 500;
  std::vector<int> fds;
  fds.reserve(n);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons(port);
  for (size_t first = 0; first < n; first += kBatch) {
    const size_t last = std::min(n, first + kBatch);
    for (size_t i = first; i < last; ++i) {
      const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0) die("socket");
      if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) die("connect");
      set_nodelay(fd);
      linger lg{1, 0};  // close with RST: no TIME_WAIT left for the next run's ports
      ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
      if (::send(fd, "!", 1, 0) != 1) die("send");
      fds.push_back(fd);
    }
    for (size_t i = first; i < last; ++i) {
      char c;
      if (::recv(fds[i], &c, 1, 0) != 1) die("recv (priming echo)");
      set_nonblocking(fds[i]);
    }
  }
  return fds;
}

// One run: fork the server, connect, ping-pong for `seconds`, kill the server.
double run_once(bool asyncore_impl, size_t conns, size_t size, double seconds) {
  int pipefd[2];
  if (::pipe(pipefd) != 0) die("pipe");
  const pid_t pid = ::fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    ::close(pipefd[0]);
    asyncore_impl ? run_asyncore_server(pipefd[1]) : run_bare_server(pipefd[1]);
  }
  ::close(pipefd[1]);
  uint16_t port = 0;
  if (::read(pipefd[0], &port, sizeof port) != sizeof port) die("read port");
  ::close(pipefd[0]);
  std::vector<int> fds = connect_all(port, conns);
  const std::string message(size, 'x');
  uint64_t trips = 0;
  if (asyncore_impl) {
    // The dispatchers own (and close) the sockets.
    trips = run_asyncore_client(fds, message, seconds);
  } else {
    trips = run_bare_client(fds, message, seconds);  // closes the sockets too
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  return static_cast<double>(trips) / seconds;
}

std::vector<size_t> parse_list(const std::string& text) {
  std::vector<size_t> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string::npos) comma = text.size();
    out.push_back(std::stoul(text.substr(pos, comma - pos)));
    pos = comma + 1;
  }
  return out;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<size_t> conns = {1, 100, 1000, 10000};
  std::vector<size_t> sizes = {64, 4096, 65536};
  double seconds = 2;
  int repeat = 1;
  std::string impl = "both";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto val = [&](const char* name) -> const char* {
      const std::string prefix = std::string("--") + name + "=";
      return a.rfind(prefix, 0) == 0 ? argv[i] + prefix.size() : nullptr;
    };
    if (const char* v = val("conns"))
      conns = parse_list(v);
    else if (const char* v = val("sizes"))
      sizes = parse_list(v);
    else if (const char* v = val("seconds"))
      seconds = std::atof(v);
    else if (const char* v = val("repeat"))
      repeat = std::max(1, std::atoi(v));
    else if (const char* v = val("impl"))
      impl = v;
    else {
      std::fprintf(stderr,
                   "usage: reactor_echo [--conns=1,100,1000,10000] [--sizes=64,4096,65536] "
                   "[--seconds=2] [--repeat=1] [--impl=both|asyncore|bare]\n");
      return 2;
    }
  }
  ::signal(SIGPIPE, SIG_IGN);
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;
  setrlimit(RLIMIT_NOFILE, &lim);
  const size_t max_conns = *std::max_element(conns.begin(), conns.end());
  if (lim.rlim_cur < max_conns + 64) {
    std::fprintf(stderr, "reactor_echo: RLIMIT_NOFILE hard limit %llu < %zu connections + 64\n",
                 static_cast<unsigned long long>(lim.rlim_cur), max_conns);
    return 1;
  }
  std::printf(
      "# ping-pong, client and server in two processes, %.1f s per run (+%.1f s warm-up), "
      "median of %d\n",
      seconds, kWarmupSeconds, repeat);
  std::printf("%-6s %-7s | %14s %10s | %14s %10s | %6s\n", "conns", "size", "asyncore rt/s", "MB/s",
              "libevent rt/s", "MB/s", "ratio");
  std::fflush(stdout);
  for (size_t c : conns) {
    for (size_t s : sizes) {
      std::vector<double> a, b;
      for (int r = 0; r < repeat; ++r) {
        if (impl != "bare") a.push_back(run_once(true, c, s, seconds));
        if (impl != "asyncore") b.push_back(run_once(false, c, s, seconds));
      }
      const double ma = a.empty() ? 0 : median(a), mb = b.empty() ? 0 : median(b);
      std::printf("%-6zu %-7zu | %14.0f %10.1f | %14.0f %10.1f | %6.2f\n", c, s, ma, ma * s / 1e6,
                  mb, mb * s / 1e6, mb > 0 ? ma / mb : 0.0);
      std::fflush(stdout);
    }
  }
  return 0;
}

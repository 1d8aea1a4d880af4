// loop_turn_bench — what 10,000 idle connections cost the reactor (Google Benchmark).
//
//   build/bin/bench_loop_turn [--benchmark_filter=...]
//
//   BM_IdleMemory/N         RSS growth per idle connection: N connected TCP sockets wrapped in an
//                           asyncore Dispatcher (readable() true, writable() false), or in one
//                           bare libevent read event each (the floor). Counter rss_per_conn and
//                           heap_per_conn.
//   BM_LoopTurn/N           one Loop::poll(0) with N idle dispatchers: asyncore asks every
//                           dispatcher readable()/writable() each turn (its semantics), then one
//                           non-blocking epoll_wait.
//   BM_BareTurn/N           one event_base_loop(EVLOOP_ONCE | EVLOOP_NONBLOCK) with N idle read
//                           events: what libevent alone costs.
//
// The peer ends of the connections live in a forked process (so this one needs only N
// descriptors; RLIMIT_NOFILE is raised to the hard limit).
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <event2/event.h>
#include <malloc.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <vector>

#include "core/dispatcher.h"
#include "core/loop.h"

namespace {

class Idle : public asyncore::Dispatcher {
 public:
  Idle(asyncore::Loop& loop, int fd) : Dispatcher(loop, asyncore::Socket(fd)) {}
  bool writable() override { return false; }
};

long rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

// Connected, idle loopback sockets whose peers are held by a child process, which closes its end
// when ours closes: each benchmark takes fresh connections and closes them when done, so neither
// process ever holds more than ~N descriptors.
class Peers {
 public:
  static Peers& get() {
    static Peers peers;
    return peers;
  }
  std::vector<int> take(size_t n) {
    std::vector<int> out;
    out.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr_), sizeof addr_) != 0) {
        std::perror("connect");
        std::exit(1);
      }
      linger lg{1, 0};  // close with RST: no TIME_WAIT piling up across benchmarks
      ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
      out.push_back(fd);
    }
    return out;
  }
  ~Peers() {
    if (child_ > 0) {
      ::kill(child_, SIGKILL);
      ::waitpid(child_, nullptr, 0);
    }
  }

 private:
  Peers() {
    rlimit lim{};
    getrlimit(RLIMIT_NOFILE, &lim);
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
    const int lfd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(lfd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(lfd, 4096) != 0) {
      std::perror("listen");
      std::exit(1);
    }
    socklen_t len = sizeof sa;
    ::getsockname(lfd, reinterpret_cast<sockaddr*>(&sa), &len);
    addr_ = sa;
    child_ = ::fork();
    if (child_ == 0) serve(lfd);
    ::close(lfd);
  }
  // The child: accepts, and closes each connection when the benchmark closed its end.
  [[noreturn]] static void serve(int lfd) {
    const int ep = ::epoll_create1(0);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = lfd;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    std::vector<epoll_event> ready(256);
    for (;;) {
      const int n = ::epoll_wait(ep, ready.data(), static_cast<int>(ready.size()), -1);
      for (int i = 0; i < n; ++i) {
        const int fd = ready[static_cast<size_t>(i)].data.fd;
        if (fd == lfd) {
          const int c = ::accept(lfd, nullptr, nullptr);
          if (c < 0) continue;
          epoll_event cev{};
          cev.events = EPOLLIN;
          cev.data.fd = c;
          ::epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
        } else {
          char buf[64];
          if (::read(fd, buf, sizeof buf) <= 0) ::close(fd);  // EOF/RST: the benchmark closed it
        }
      }
    }
  }
  sockaddr_in addr_{};
  pid_t child_ = -1;
};

// Memory first, while the heap is fresh. The sockets already exist before the measurement: what
// is counted is the reactor's per-connection state (dispatcher, libevent event, epoll entry are
// kernel memory and not in RSS; socket buffers of an idle connection are empty).
void BM_IdleMemory(benchmark::State& state, bool asyncore_impl) {
  const size_t n = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    std::vector<int> fds = Peers::get().take(n);
    asyncore::Loop loop;
    event_base* base = event_base_new();
    loop.poll(0);
    event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    const long before = rss_bytes();
    const size_t heap_before = mallinfo2().uordblks;
    std::vector<std::unique_ptr<Idle>> dispatchers;
    std::vector<event*> events;
    if (asyncore_impl) {
      dispatchers.reserve(n);
      for (int fd : fds) dispatchers.push_back(std::make_unique<Idle>(loop, fd));
      loop.poll(0);  // registers the interest with epoll
    } else {
      events.reserve(n);
      for (int fd : fds) {
        events.push_back(event_new(
            base, fd, EV_READ | EV_PERSIST, [](int, short, void*) {}, nullptr));
        event_add(events.back(), nullptr);
      }
      event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    }
    const long after = rss_bytes();
    const size_t heap_after = mallinfo2().uordblks;
    // RSS growth can be 0 when freed memory of an earlier benchmark is reused: the heap bytes in
    // use (mallinfo2) are the exact count of what this reactor allocated per connection.
    state.counters["rss_per_conn"] = static_cast<double>(after - before) / static_cast<double>(n);
    state.counters["heap_per_conn"] =
        static_cast<double>(heap_after - heap_before) / static_cast<double>(n);
    dispatchers.clear();
    for (event* e : events) event_free(e);
    if (!asyncore_impl) {
      for (int fd : fds) ::close(fd);
    }
    event_base_free(base);
  }
}
BENCHMARK_CAPTURE(BM_IdleMemory, asyncore, true)->Arg(10000)->Iterations(1);
BENCHMARK_CAPTURE(BM_IdleMemory, bare_libevent, false)->Arg(10000)->Iterations(1);

void BM_LoopTurn(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  std::vector<int> fds = Peers::get().take(n);
  asyncore::Loop loop;
  std::vector<std::unique_ptr<Idle>> dispatchers;
  for (int fd : fds) dispatchers.push_back(std::make_unique<Idle>(loop, fd));
  loop.poll(0);
  for (auto _ : state) loop.poll(0);
  state.counters["ns_per_dispatcher"] =
      benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsIterationInvariantRate |
                                                     benchmark::Counter::kInvert);
}
BENCHMARK(BM_LoopTurn)->Arg(1)->Arg(100)->Arg(1000)->Arg(10000)->Unit(benchmark::kMicrosecond);

void BM_BareTurn(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  std::vector<int> fds = Peers::get().take(n);
  event_base* base = event_base_new();
  std::vector<event*> events;
  for (int fd : fds) {
    events.push_back(event_new(
        base, fd, EV_READ | EV_PERSIST, [](int, short, void*) {}, nullptr));
    event_add(events.back(), nullptr);
  }
  event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
  for (auto _ : state) event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
  for (event* e : events) event_free(e);
  for (int fd : fds) ::close(fd);
  event_base_free(base);
}
BENCHMARK(BM_BareTurn)->Arg(1)->Arg(100)->Arg(1000)->Arg(10000)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();

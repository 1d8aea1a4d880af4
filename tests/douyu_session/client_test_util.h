// client_test_util.h — what the DouyuClient tests share: a thread-safe collector for the messages
// a client delivers, and client options pointed at a simulator on loopback.
#pragma once

#include <dirent.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "douyu/client/douyu_client.h"
#include "douyu/simulator/douyu_server.h"
#include "tests/core/test_util.h"

namespace asyncore::douyu::test {

using asyncore::test::run_until;
using namespace std::chrono_literals;

// Collects what a client's worker thread delivers; read from the test (loop) thread.
class Collector {
 public:
  void operator()(const Message& m) {
    std::lock_guard lock(mutex_);
    types_.emplace_back(m.type());
    if (auto seq = m.get("seq"))
      seqs_.push_back(std::strtoull(std::string(*seq).c_str(), nullptr, 10));
  }
  DouyuClient::Callback callback() {
    return [this](const Message& m) { (*this)(m); };
  }
  size_t count(std::string_view type) const {
    std::lock_guard lock(mutex_);
    size_t n = 0;
    for (auto& t : types_) n += (t == type);
    return n;
  }
  size_t room_messages() const {
    std::lock_guard lock(mutex_);
    return seqs_.size();
  }
  std::vector<uint64_t> seqs() const {
    std::lock_guard lock(mutex_);
    return seqs_;
  }
  std::vector<std::string> types() const {
    std::lock_guard lock(mutex_);
    return types_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> types_;
  std::vector<uint64_t> seqs_;
};

// Options for a server on 127.0.0.1:port, with short backoffs so reconnect tests stay fast.
inline DouyuClientOptions options_for_port(uint16_t port, std::string room = "9999") {
  DouyuClientOptions o;
  o.host = "127.0.0.1";
  o.port = port;
  o.room_id = std::move(room);
  o.backoff_initial = 20ms;
  o.backoff_max = 200ms;
  return o;
}

inline DouyuClientOptions options_for(const DouyuServer& server, std::string room = "9999") {
  return options_for_port(server.address().port(), std::move(room));
}

// A simulator on a free loopback port, shared-owned by the loop's map.
inline std::shared_ptr<DouyuServer> simulator(Loop& loop, SimulatorOptions options) {
  return make_dispatcher<DouyuServer>(loop, Address::ipv4_loopback(0), options);
}

// options_for() with a shared WorkerPool: the client starts no thread of its own.
inline DouyuClientOptions pooled(const DouyuServer& server, std::shared_ptr<WorkerPool> pool,
                                 std::string room = "9999") {
  auto o = options_for(server, std::move(room));
  o.worker_pool = std::move(pool);
  return o;
}

// A one-shot gate a callback can wait on until the test opens it, with a deadline, so a broken
// test cannot hang.
class Gate {
 public:
  void open() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    cv_.notify_all();
  }
  bool wait(std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, limit, [this] { return open_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool open_ = false;
};

// Threads of this process (the entries of /proc/self/task). ThreadSanitizer's runtime starts a
// background thread of its own at the process's first pthread_create: one thread is started and
// joined before the first count, so that thread is there before any "before" is read.
inline size_t thread_count() {
  static const bool runtime_threads_started = [] {
    std::thread([] {}).join();
    return true;
  }();
  (void)runtime_threads_started;
  size_t n = 0;
  if (DIR* d = ::opendir("/proc/self/task")) {
    while (dirent* e = ::readdir(d)) n += e->d_name[0] != '.';
    ::closedir(d);
  }
  return n;
}

// True when `seqs` is exactly 1..n in order (no loss, no duplicate, no reordering).
inline bool is_one_to_n(const std::vector<uint64_t>& seqs, uint64_t n) {
  if (seqs.size() != n) return false;
  for (uint64_t i = 0; i < n; ++i) {
    if (seqs[i] != i + 1) return false;
  }
  return true;
}

}  // namespace asyncore::douyu::test

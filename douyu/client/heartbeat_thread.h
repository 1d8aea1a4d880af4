// heartbeat_thread.h — HeartbeatThread (a HeartbeatSender, heartbeat_sender.h): the tutorial's
// heartbeat thread ("构建心跳线程 / 添加触发机制 / 添加暂停机制"): a thread that calls `beat` every
// `interval` while triggered, can be paused, and exits at once on stop — it never sleeps out an
// interval it no longer needs.
//
// Thread-safe: trigger(), pause(), stop() and join() may be called from any thread (join() from
// `beat` returns at once; several threads may join at the same time).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <stop_token>
#include <thread>

#include "douyu/client/heartbeat_sender.h"

namespace asyncore::douyu {

class HeartbeatThread final : public HeartbeatSender {
 public:
  using Clock = std::chrono::steady_clock;

  // Starts the thread, paused. `beat` runs on the heartbeat thread.
  HeartbeatThread(std::chrono::milliseconds interval, std::function<void()> beat);
  ~HeartbeatThread() override;  // stop() + join
  HeartbeatThread(const HeartbeatThread&) = delete;
  HeartbeatThread& operator=(const HeartbeatThread&) = delete;

  // Starts beating: the first beat comes one interval after the trigger (the login itself proves
  // the connection alive). Triggering while triggered restarts the interval.
  void trigger() override;
  // Stops beating until the next trigger(). Wakes the thread at once.
  void pause() override;
  // Ends the thread (wakes it at once). join() waits for it; both are idempotent.
  void stop() override;
  void join() override;

  bool triggered() const override;
  uint64_t beats() const override;
  std::chrono::milliseconds interval() const { return interval_; }

 private:
  void run(std::stop_token stop);

  const std::chrono::milliseconds interval_;
  const std::function<void()> beat_;
  mutable std::mutex mutex_;
  std::condition_variable_any wake_;
  bool triggered_ = false;     // guarded by mutex_
  uint64_t generation_ = 0;    // guarded by mutex_: bumped by every trigger()/pause()
  uint64_t beats_ = 0;         // guarded by mutex_
  std::thread::id thread_id_;  // of thread_, set once by the constructor
  std::once_flag joined_;
  std::jthread thread_;  // last: starts after the members above exist
};

}  // namespace asyncore::douyu

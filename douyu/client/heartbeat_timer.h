// heartbeat_timer.h — HeartbeatTimer: a HeartbeatSender (heartbeat_sender.h) kept by a timer on the
// client's Loop instead of a thread, so that thousands of clients in one process cost no thread
// each. `beat` runs on the loop thread, inside a turn.
//
// Same contract as HeartbeatThread: the first beat one interval after trigger(), a re-trigger
// restarts the interval, pause() and stop() take effect at once — no beat starts after they
// return, even when the loop has not yet run the change (each beat checks the latest state).
//
// Threads: the timer is the loop's, so it is armed and cancelled on the loop thread only. A call
// from another thread records the new state under a lock and queues the re-arming with
// Loop::call_soon_threadsafe; the queued call holds a weak liveness token and does nothing once
// the HeartbeatTimer is gone (as DouyuClient's own queued calls). The re-arming applies the
// latest state, so calls from several threads end in the state of the last one. Destroy it on
// the loop thread (or while no loop runs), before the Loop.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>

#include "core/loop.h"
#include "douyu/client/heartbeat_sender.h"

namespace asyncore::douyu {

class HeartbeatTimer final : public HeartbeatSender {
 public:
  // Paused until trigger(). Loop thread (or no loop running).
  HeartbeatTimer(Loop& loop, std::chrono::milliseconds interval, std::function<void()> beat);
  ~HeartbeatTimer() override;  // cancels the timer
  HeartbeatTimer(const HeartbeatTimer&) = delete;
  HeartbeatTimer& operator=(const HeartbeatTimer&) = delete;

  void trigger() override { set(true); }
  void pause() override { set(false); }
  void stop() override;
  // Nothing to wait for: a beat runs inside a loop turn, and none starts after stop().
  void join() override {}
  bool triggered() const override;
  uint64_t beats() const override { return beats_.load(std::memory_order_relaxed); }

 private:
  void set(bool triggered);
  // On the loop thread at once, else queued for it.
  void apply_soon();
  // Loop thread: (re)arms or cancels the timer for the latest state, unless already done.
  void apply();
  void on_timer();

  Loop& loop_;
  const std::chrono::milliseconds interval_;
  const std::function<void()> beat_;
  mutable std::mutex mutex_;
  bool triggered_ = false;         // guarded by mutex_
  bool stopped_ = false;           // guarded by mutex_
  uint64_t generation_ = 0;        // guarded by mutex_: bumped by every change
  uint64_t armed_generation_ = 0;  // loop thread: the state the timer was last armed for
  TimerId timer_ = 0;              // loop thread
  std::atomic<uint64_t> beats_{0};
  std::shared_ptr<char> life_ = std::make_shared<char>();
  const std::weak_ptr<char> life_token_ = life_;
};

}  // namespace asyncore::douyu

// connect_pacer.h — ConnectPacer: at most `per_second` connection attempts per second for all the
// clients that share it, first connects and reconnects alike, in the order they asked.
//
// Why: a process following thousands of rooms must not open thousands of connections in one
// loop turn — not at start, and not after a network blip, when every room loses its connection
// at the same moment and each one's backoff (±20 % jitter) would still bring them back within a
// few hundred milliseconds of each other. With a pacer (DouyuClientOptions::connect_pacer), a
// client whose time to connect has come queues for a slot; the slots are spaced 1/per_second
// apart, with a burst of at most max(1, per_second / 100) (10 ms worth).
//
// Loop thread only (a DouyuClient calls it from its own loop-thread code). A waiter is a
// function returning whether it used its slot: a client destroyed or stopped meanwhile returns
// false, and the next waiter gets the slot at once. Destroying the pacer drops its waiters
// unrun; it is shared (shared_ptr) by the clients that use it, so it outlives them unless the
// program keeps it alive longer — then destroy it on the loop thread, before the Loop.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>

#include "core/loop.h"

namespace asyncore::douyu {

class ConnectPacer {
 public:
  using Clock = std::chrono::steady_clock;

  // per_second > 0 (std::invalid_argument otherwise, as for NaN or infinity).
  ConnectPacer(Loop& loop, double per_second);
  ~ConnectPacer();
  ConnectPacer(const ConnectPacer&) = delete;
  ConnectPacer& operator=(const ConnectPacer&) = delete;

  // Runs `go` now when a slot is free and nobody waits, else once its turn comes.
  void acquire(std::function<bool()> go);

  size_t waiting() const { return waiters_.size(); }
  uint64_t granted() const { return granted_; }  // slots used so far
  double per_second() const { return per_second_; }

 private:
  void refill();
  void serve();  // grants what the bucket allows, then arms the timer for the next slot

  Loop& loop_;
  const double per_second_;
  const double burst_;
  double tokens_;
  Clock::time_point refilled_;
  std::deque<std::function<bool()>> waiters_;
  TimerId timer_ = 0;
  bool serving_ = false;  // inside serve(): a waiter that calls acquire() only queues
  uint64_t granted_ = 0;
};

}  // namespace asyncore::douyu

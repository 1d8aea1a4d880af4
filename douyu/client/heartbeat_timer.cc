#include "douyu/client/heartbeat_timer.h"

#include <glog/logging.h>

#include "core/exception_text.h"

namespace asyncore::douyu {

HeartbeatTimer::HeartbeatTimer(Loop& loop, std::chrono::milliseconds interval,
                               std::function<void()> beat)
    : loop_(loop), interval_(interval), beat_(std::move(beat)) {}

HeartbeatTimer::~HeartbeatTimer() {
  life_.reset();  // re-armings still queued now do nothing
  if (timer_ != 0) loop_.cancel(timer_);
}

void HeartbeatTimer::set(bool triggered) {
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    triggered_ = triggered;
    ++generation_;
  }
  apply_soon();
}

void HeartbeatTimer::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    stopped_ = true;
    triggered_ = false;
    ++generation_;
  }
  apply_soon();
}

bool HeartbeatTimer::triggered() const {
  std::lock_guard lock(mutex_);
  return triggered_;
}

void HeartbeatTimer::apply_soon() {
  if (loop_.in_loop_thread()) {
    apply();
    return;
  }
  loop_.call_soon_threadsafe([this, life = life_token_] {
    if (life.lock()) apply();  // the HeartbeatTimer may have been destroyed since
  });
}

void HeartbeatTimer::apply() {
  bool triggered = false;
  uint64_t generation = 0;
  {
    std::lock_guard lock(mutex_);
    triggered = triggered_;
    generation = generation_;
  }
  // A re-arming queued before a later change already applied on the loop thread: nothing to do
  // (re-arming again would restart the interval the caller did not ask to restart).
  if (generation == armed_generation_) return;
  armed_generation_ = generation;
  if (timer_ != 0) loop_.cancel(timer_);
  timer_ = 0;
  if (triggered) {
    const double seconds = static_cast<double>(interval_.count()) / 1000.0;
    timer_ = loop_.call_every(seconds, [this] { on_timer(); });
  }
}

void HeartbeatTimer::on_timer() {
  {
    // A pause()/stop() from another thread whose re-arming has not run yet: no beat after it.
    std::lock_guard lock(mutex_);
    if (!triggered_ || generation_ != armed_generation_) return;
  }
  beats_.fetch_add(1, std::memory_order_relaxed);
  try {
    beat_();
  } catch (...) {
    LOG(ERROR) << "heartbeat: exception escaped the beat function: " << current_exception_text();
  }
}

}  // namespace asyncore::douyu

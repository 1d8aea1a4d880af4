#include "douyu/client/heartbeat_thread.h"

#include <glog/logging.h>

#include "core/exception_text.h"

namespace asyncore::douyu {

HeartbeatThread::HeartbeatThread(std::chrono::milliseconds interval, std::function<void()> beat)
    : interval_(interval),
      beat_(std::move(beat)),
      thread_([this](std::stop_token st) { run(st); }) {
  // Written before any other thread can reach this object; read-only afterwards, unlike
  // thread_.get_id(), which a join() resets.
  thread_id_ = thread_.get_id();
}

HeartbeatThread::~HeartbeatThread() {
  stop();
  join();
}

void HeartbeatThread::trigger() {
  std::lock_guard lock(mutex_);
  triggered_ = true;
  ++generation_;
  wake_.notify_all();
}

void HeartbeatThread::pause() {
  std::lock_guard lock(mutex_);
  triggered_ = false;
  ++generation_;
  wake_.notify_all();
}

void HeartbeatThread::stop() {
  thread_.request_stop();  // condition_variable_any waits with this token wake at once
}

void HeartbeatThread::join() {
  if (std::this_thread::get_id() == thread_id_) return;  // from inside `beat`
  // Any number of threads may join: the first joins the thread, the others wait for it.
  std::call_once(joined_, [this] { thread_.join(); });
}

bool HeartbeatThread::triggered() const {
  std::lock_guard lock(mutex_);
  return triggered_;
}

uint64_t HeartbeatThread::beats() const {
  std::lock_guard lock(mutex_);
  return beats_;
}

void HeartbeatThread::run(std::stop_token stop) {
  std::unique_lock lock(mutex_);
  while (!stop.stop_requested()) {
    // Paused: wait for a trigger (or stop).
    if (!wake_.wait(lock, stop, [this] { return triggered_; })) return;
    // Triggered: wait one interval, unless paused, re-triggered or stopped meanwhile.
    const uint64_t generation = generation_;
    const auto deadline = Clock::now() + interval_;
    if (wake_.wait_until(lock, stop, deadline, [&] { return generation_ != generation; })) {
      continue;  // state changed: start over (a re-trigger restarts the interval)
    }
    if (stop.stop_requested()) return;
    ++beats_;
    lock.unlock();
    try {
      beat_();
    } catch (...) {
      LOG(ERROR) << "heartbeat: exception escaped the beat function: " << current_exception_text();
    }
    lock.lock();
  }
}

}  // namespace asyncore::douyu

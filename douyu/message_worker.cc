#include "douyu/message_worker.h"

#include <glog/logging.h>

#include "core/exception_text.h"

namespace asyncore::douyu {

MessageWorker::MessageWorker(size_t high_water, std::function<void(const Message&)> deliver,
                             std::function<void()> on_drained)
    : high_water_(high_water < 2 ? 2 : high_water),
      deliver_(std::move(deliver)),
      on_drained_(std::move(on_drained)),
      thread_([this](std::stop_token st) { run(st); }) {}

MessageWorker::~MessageWorker() {
  stop(true);
  join();
}

void MessageWorker::push_batch(std::vector<Message>& batch) {
  if (batch.empty()) return;
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    for (auto& m : batch) queue_.push_back(std::move(m));
    pending_.fetch_add(batch.size(), std::memory_order_release);
    wake = worker_waiting_;
  }
  batch.clear();
  // A busy worker finds the new messages when it comes back for more: only a waiting one needs
  // the notification (a futex call per read otherwise).
  if (wake) ready_.notify_one();
}

bool MessageWorker::should_pause() {
  if (pending() < high_water_) return false;
  paused_.store(true, std::memory_order_release);
  // Re-check: the worker may have drained between the two loads and seen paused_ == false.
  return pending() >= low_water();
}

void MessageWorker::stop(bool deliver_pending) {
  deliver_pending_on_stop_.store(deliver_pending, std::memory_order_release);
  thread_.request_stop();
}

void MessageWorker::join() {
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void MessageWorker::run(std::stop_token stop) {
  std::deque<Message> batch;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      worker_waiting_ = true;
      ready_.wait(lock, stop, [this] { return !queue_.empty(); });
      worker_waiting_ = false;
      if (queue_.empty()) return;  // stopped, and everything was delivered
      batch.swap(queue_);
    }
    while (!batch.empty()) {
      if (stop.stop_requested() && !deliver_pending_on_stop_.load(std::memory_order_acquire)) break;
      try {
        deliver_(batch.front());
      } catch (...) {
        // A throwing callback must not take the worker (and every later message) down with it.
        LOG(ERROR) << "exception escaped the message callback (message type '"
                   << batch.front().type() << "'): " << current_exception_text();
      }
      batch.pop_front();
      delivered_.fetch_add(1, std::memory_order_relaxed);
      const size_t left = pending_.fetch_sub(1, std::memory_order_acq_rel) - 1;
      if (left <= low_water() && paused_.exchange(false, std::memory_order_acq_rel) &&
          on_drained_) {
        on_drained_();
      }
    }
    if (!batch.empty()) {  // stopped without delivering the rest, by option
      std::lock_guard lock(mutex_);
      const size_t dropped = batch.size() + queue_.size();
      discarded_.fetch_add(dropped, std::memory_order_relaxed);
      pending_.fetch_sub(dropped, std::memory_order_acq_rel);
      LOG(WARNING) << "receive queue stopped with " << dropped
                   << " undelivered messages, discarded as requested";
      batch.clear();
      queue_.clear();
      return;
    }
  }
}

}  // namespace asyncore::douyu

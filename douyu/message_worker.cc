#include "douyu/message_worker.h"

#include <glog/logging.h>

#include "core/exception_text.h"

namespace asyncore::douyu {

MessageWorker::MessageWorker(size_t high_water, size_t high_water_bytes,
                             std::function<void(const Message&)> deliver,
                             std::function<void()> on_drained)
    : high_water_(high_water < 2 ? 2 : high_water),
      high_water_bytes_(high_water_bytes == 0 ? SIZE_MAX : high_water_bytes),
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
  size_t bytes = 0;
  for (const auto& m : batch) bytes += m.memory_bytes();
  {
    std::lock_guard lock(mutex_);
    for (auto& m : batch) queue_.push_back(std::move(m));
    pending_bytes_.fetch_add(bytes, std::memory_order_seq_cst);
    pending_.fetch_add(batch.size(), std::memory_order_seq_cst);
    wake = worker_waiting_;
  }
  batch.clear();
  // A busy worker finds the new messages when it comes back for more: only a waiting one needs
  // the notification (a futex call per read otherwise).
  if (wake) ready_.notify_one();
}

bool MessageWorker::should_pause() {
  if (pending() < high_water_ && pending_bytes() < high_water_bytes_) return false;
  paused_.store(true, std::memory_order_seq_cst);
  // Re-check: the worker may have drained between the loads above and the store, and then seen
  // paused_ == false. seq_cst on both sides: either this load sees the drain, or the worker's
  // exchange sees paused_ == true and calls on_drained.
  return above_low_water();
}

bool MessageWorker::above_low_water() const {
  return pending_.load(std::memory_order_seq_cst) > low_water() ||
         pending_bytes_.load(std::memory_order_seq_cst) > high_water_bytes_ / 2;
}

void MessageWorker::delivered_one(size_t bytes) {
  delivered_.fetch_add(1, std::memory_order_relaxed);
  pending_bytes_.fetch_sub(bytes, std::memory_order_seq_cst);
  pending_.fetch_sub(1, std::memory_order_seq_cst);
  if (!above_low_water() && paused_.exchange(false, std::memory_order_seq_cst) && on_drained_) {
    on_drained_();
  }
}

void MessageWorker::stop(bool deliver_pending) {
  deliver_pending_on_stop_.store(deliver_pending, std::memory_order_release);
  thread_.request_stop();
}

void MessageWorker::join() {
  if (on_worker_thread()) return;  // from inside `deliver`: it cannot wait for itself
  // Any number of threads may join: the first joins the thread, the others wait for it.
  std::call_once(joined_, [this] { thread_.join(); });
}

void MessageWorker::run(std::stop_token stop) {
  worker_id_.store(std::this_thread::get_id(), std::memory_order_release);
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
      const size_t bytes = batch.front().memory_bytes();
      try {
        deliver_(batch.front());
      } catch (...) {
        // A throwing callback must not take the worker (and every later message) down with it.
        LOG(ERROR) << "exception escaped the message callback (message type '"
                   << batch.front().type() << "'): " << current_exception_text();
      }
      batch.pop_front();
      delivered_one(bytes);
    }
    if (!batch.empty()) {  // stopped without delivering the rest, by option
      std::lock_guard lock(mutex_);
      const size_t dropped = batch.size() + queue_.size();
      size_t bytes = 0;
      for (const auto& m : batch) bytes += m.memory_bytes();
      for (const auto& m : queue_) bytes += m.memory_bytes();
      discarded_.fetch_add(dropped, std::memory_order_relaxed);
      pending_bytes_.fetch_sub(bytes, std::memory_order_seq_cst);
      pending_.fetch_sub(dropped, std::memory_order_seq_cst);
      LOG(WARNING) << "receive queue stopped with " << dropped
                   << " undelivered messages, discarded as requested";
      batch.clear();
      queue_.clear();
      return;
    }
  }
}

}  // namespace asyncore::douyu

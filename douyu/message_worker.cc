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

namespace {
// A recycled batch keeps at most this many Messages, and none whose body reserved more than
// kMaxRecycledBody: the pool must not pin the memory of one burst of huge frames.
constexpr size_t kMaxRecycled = 4096;
constexpr size_t kMaxRecycledBody = 4096;
}  // namespace

void MessageWorker::push_batch(std::vector<Message>& batch, std::vector<Message>* recycled) {
  if (batch.empty()) return;
  const size_t n = batch.size();
  {
    std::lock_guard lock(mutex_);
    if (queue_.empty()) {
      queue_.swap(batch);  // the common case: the worker keeps up; O(1)
    } else {
      queue_.insert(queue_.end(), std::make_move_iterator(batch.begin()),
                    std::make_move_iterator(batch.end()));
    }
    pending_.fetch_add(n, std::memory_order_release);
    if (recycled != nullptr && !recycled_.empty()) {
      if (recycled->empty()) {
        recycled->swap(recycled_);
      } else if (recycled->size() < kMaxRecycled) {
        // Moving a Message moves two heap pointers: cheap enough to do under the lock.
        recycled->insert(recycled->end(), std::make_move_iterator(recycled_.begin()),
                         std::make_move_iterator(recycled_.end()));
        recycled_.clear();
      }
    }
  }
  batch.clear();
  ready_.notify_one();
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
  std::vector<Message> batch;
  for (;;) {
    if (!batch.empty()) {  // trimmed outside the lock: what is not kept is freed here
      if (batch.size() > kMaxRecycled) batch.resize(kMaxRecycled);
      std::erase_if(batch, [](const Message& m) { return m.body_capacity() > kMaxRecycledBody; });
    }
    {
      std::unique_lock lock(mutex_);
      // Hand the delivered batch back for reuse (up to kMaxRecycled waiting there).
      if (recycled_.empty()) {
        recycled_.swap(batch);
      } else if (recycled_.size() < kMaxRecycled) {
        recycled_.insert(recycled_.end(), std::make_move_iterator(batch.begin()),
                         std::make_move_iterator(batch.end()));
        batch.clear();
      }
      if (!batch.empty()) {
        lock.unlock();
        batch.clear();
        lock.lock();
      }
      ready_.wait(lock, stop, [this] { return !queue_.empty(); });
      if (queue_.empty()) return;  // stopped, and everything was delivered
      batch.swap(queue_);
    }
    size_t i = 0;
    for (; i < batch.size(); ++i) {
      if (stop.stop_requested() && !deliver_pending_on_stop_.load(std::memory_order_acquire)) break;
      try {
        deliver_(batch[i]);
      } catch (...) {
        // A throwing callback must not take the worker (and every later message) down with it.
        LOG(ERROR) << "exception escaped the message callback (message type '" << batch[i].type()
                   << "'): " << current_exception_text();
      }
      delivered_.fetch_add(1, std::memory_order_relaxed);
      const size_t left = pending_.fetch_sub(1, std::memory_order_acq_rel) - 1;
      if (left <= low_water() && paused_.exchange(false, std::memory_order_acq_rel) &&
          on_drained_) {
        on_drained_();
      }
    }
    if (i < batch.size()) {  // stopped without delivering the rest, by option
      std::lock_guard lock(mutex_);
      const size_t dropped = batch.size() - i + queue_.size();
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

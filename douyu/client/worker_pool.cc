#include "douyu/client/worker_pool.h"

#include <glog/logging.h>

#include <stdexcept>
#include <system_error>

#include "douyu/client/message_worker.h"

namespace asyncore::douyu {

WorkerPool::Lane::Lane() : thread_([this](const std::stop_token& st) { run(st); }) {
  // Written before any queue can be bound to this lane; read-only afterwards (unlike
  // thread_.get_id(), which a join() resets).
  id_ = thread_.get_id();
}

WorkerPool::Lane::~Lane() {
  stop();
  if (thread_.joinable()) thread_.join();
}

void WorkerPool::Lane::schedule(MessageWorker* worker) {
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(worker);
    wake = waiting_;
  }
  // A busy lane finds the queue when it comes back for more: only a waiting one needs waking.
  if (wake) ready_.notify_one();
}

void WorkerPool::Lane::run(const std::stop_token& stop) {
  for (;;) {
    MessageWorker* worker = nullptr;
    {
      std::unique_lock lock(mutex_);
      waiting_ = true;
      ready_.wait(lock, stop, [this] { return !queue_.empty(); });
      waiting_ = false;
      // Stopped: no queue is bound any more (~WorkerPool checked), so none can be waiting.
      if (queue_.empty()) return;
      worker = queue_.front();
      queue_.pop_front();
    }
    worker->serve(*this);
  }
}

WorkerPool::WorkerPool(size_t threads) {
  if (threads == 0) throw std::invalid_argument("WorkerPool: needs at least one thread");
  lanes_.reserve(threads);
  try {
    for (size_t i = 0; i < threads; ++i) lanes_.push_back(std::make_unique<Lane>());
  } catch (const std::system_error& e) {
    lanes_.clear();  // stops and joins the lanes already started
    throw std::system_error(e.code(), "WorkerPool: cannot start its threads");
  }
}

WorkerPool::~WorkerPool() {
  // Both would otherwise end in a use after free or a thread joining itself: fail loudly.
  LOG_IF(FATAL, attached() != 0)
      << "WorkerPool destroyed while " << attached()
      << " receive queue(s) still use it: destroy the clients first (or share the pool through "
         "DouyuClientOptions::worker_pool, which keeps it alive)";
  for (const auto& lane : lanes_) {
    LOG_IF(FATAL, lane->on_this_thread())
        << "WorkerPool destroyed on one of its own threads (the last client destroyed inside "
           "its callback?): it cannot join itself";
  }
  for (const auto& lane : lanes_) lane->stop();
  lanes_.clear();
}

WorkerPool::Lane& WorkerPool::attach() {
  attached_.fetch_add(1, std::memory_order_relaxed);
  return *lanes_[next_.fetch_add(1, std::memory_order_relaxed) % lanes_.size()];
}

}  // namespace asyncore::douyu

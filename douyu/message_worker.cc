#include "douyu/message_worker.h"

#include <glog/logging.h>

#include <utility>

#include "core/exception_text.h"

namespace asyncore::douyu {

namespace {
// Drained batches kept for push() to reuse, and the largest one kept: enough for the batches in
// flight of a busy connection (one per 64 KiB read); a batch that once held a large frame is
// freed instead (a 64 KiB read: its bodies + ~80 KB of scanned fields, each below malloc's
// mmap threshold). A quiet connection has one or two batches in flight, so keeps one or two.
constexpr size_t kSpareBatches = 16;
constexpr size_t kKeepBatchBytes = 256 * 1024;

// Single-writer counters: a load and a store, no locked read-modify-write on the hot path.
void add(std::atomic<uint64_t>& counter, uint64_t n) {
  counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_seq_cst);
}
}  // namespace

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

void MessageWorker::push(FrameBatch& batch) {
  if (batch.empty()) return;
  const size_t messages = batch.size();
  const size_t bytes = batch.memory_bytes();
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(batch));
    if (spare_.empty()) {
      batch = FrameBatch();
    } else {
      batch = std::move(spare_.back());
      spare_.pop_back();
    }
    // Inside the lock: the worker, which takes the batch under this lock, sees the counts first,
    // so pending() never goes below zero.
    add(pushed_bytes_, bytes);
    add(pushed_, messages);
    wake = worker_waiting_;
  }
  // A busy worker finds the new messages when it comes back for more: only a waiting one needs
  // the notification (a futex call per read otherwise).
  if (wake) ready_.notify_one();
}

size_t MessageWorker::pending() const {
  // Consumed first: the later load of pushed_ can only be larger, never smaller.
  const uint64_t consumed = consumed_.load(std::memory_order_seq_cst);
  return static_cast<size_t>(pushed_.load(std::memory_order_seq_cst) - consumed);
}

size_t MessageWorker::pending_bytes() const {
  const uint64_t consumed = consumed_bytes_.load(std::memory_order_seq_cst);
  return static_cast<size_t>(pushed_bytes_.load(std::memory_order_seq_cst) - consumed);
}

bool MessageWorker::should_pause() {
  if (pending() < high_water_ && pending_bytes() < high_water_bytes_) return false;
  paused_.store(true, std::memory_order_seq_cst);
  // Re-check: the worker may have drained between the loads above and the store, and then seen
  // paused_ == false. seq_cst on both sides: either this load sees the drain, or the worker's
  // load sees paused_ == true and calls on_drained.
  return above_low_water();
}

bool MessageWorker::above_low_water() const {
  return pending() > low_water() || pending_bytes() > high_water_bytes_ / 2;
}

void MessageWorker::maybe_drained() {
  if (paused_.load(std::memory_order_seq_cst) && !above_low_water() &&
      paused_.exchange(false, std::memory_order_seq_cst) && on_drained_) {
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
  // Once the thread ends its id may be given to a new thread, which must not pass for the worker
  // (join() would return at once, DouyuClient::join() would throw).
  struct ClearId {
    std::atomic<std::thread::id>& id;
    ~ClearId() { id.store(std::thread::id(), std::memory_order_release); }
  } clear_id{worker_id_};
  std::vector<FrameBatch> taken;
  Message message;  // borrows each message of the batch in turn (no copy)
  for (;;) {
    for (FrameBatch& b : taken) b.recycle(kKeepBatchBytes);  // outside the lock: may free
    {
      std::unique_lock lock(mutex_);
      for (FrameBatch& b : taken) {
        if (spare_.size() < kSpareBatches) spare_.push_back(std::move(b));
      }
      taken.clear();
      worker_waiting_ = true;
      ready_.wait(lock, stop, [this] { return !queue_.empty(); });
      worker_waiting_ = false;
      if (queue_.empty()) return;  // stopped, and everything was delivered
      taken.swap(queue_);
    }
    for (size_t i = 0; i < taken.size(); ++i) {
      FrameBatch& batch = taken[i];
      for (size_t j = 0; j < batch.size(); ++j) {
        if (stop.stop_requested() && !deliver_pending_on_stop_.load(std::memory_order_acquire)) {
          discard_rest(taken, i, j);
          return;
        }
        batch.lend(j, message);  // decoded in place, in the batch's memory
        try {
          deliver_(message);
        } catch (...) {
          // A throwing callback must not take the worker (and every later message) down with it.
          LOG(ERROR) << "exception escaped the message callback (message type '" << message.type()
                     << "'): " << current_exception_text();
        }
        delivered_.store(delivered_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        add(consumed_, 1);
        maybe_drained();
      }
      // The batch's memory is released with the batch: counted down once, at its end.
      add(consumed_bytes_, batch.memory_bytes());
      maybe_drained();
    }
  }
}

// Stopped without delivering the rest, by option: the messages of taken[from] from
// `first_message` on, of the later batches and of the queue are counted and dropped.
void MessageWorker::discard_rest(std::vector<FrameBatch>& taken, size_t from,
                                 size_t first_message) {
  std::lock_guard lock(mutex_);
  size_t dropped = taken[from].size() - first_message;
  size_t bytes = taken[from].memory_bytes();
  for (size_t i = from + 1; i < taken.size(); ++i) {
    dropped += taken[i].size();
    bytes += taken[i].memory_bytes();
  }
  for (const FrameBatch& b : queue_) {
    dropped += b.size();
    bytes += b.memory_bytes();
  }
  queue_.clear();
  discarded_.fetch_add(dropped, std::memory_order_relaxed);
  add(consumed_bytes_, bytes);
  add(consumed_, dropped);
  LOG(WARNING) << "receive queue stopped with " << dropped
               << " undelivered messages, discarded as requested";
}

}  // namespace asyncore::douyu

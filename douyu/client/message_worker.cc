#include "douyu/client/message_worker.h"

#include <glog/logging.h>

#include <utility>

#include "core/exception_text.h"

namespace asyncore::douyu {

namespace {
// Drained batches kept for push() to reuse, and the largest one kept: enough for the batches in
// flight of a busy connection (one per 64 KiB read); a batch that once held a large frame is
// freed instead (a 64 KiB read: its bodies + ~110 KB reserved for its fields, one per 12 bytes
// (FrameBatch::reserve)). A quiet connection has one or two batches in flight, so keeps one or two.
constexpr size_t kSpareBatches = 16;
constexpr size_t kKeepBatchBytes = 256 * 1024;
// What the worker keeps when it empties the queue depends on what it just delivered. After a
// batch of kBusyBatchBytes or more (the room is busy, its worker merely keeps up): up to
// kSpareBatches of any kept size, so that every read in flight reuses one. After only small
// batches (the room went quiet): at most kIdleSpareBatches of at most kIdleKeepBatchBytes, so
// the batches of a past burst do not stay resident per idle room. (Freeing them on every empty
// queue made a busy room whose worker keeps up allocate ~150 KB per 64 KiB read, fault the pages
// in and trim the heap again: a third of the loop thread's time in the profile. Keeping two
// when busy still left the reader without a spare for the third read in flight, behind a
// callback that reads only types: it received into its own buffer and copied, 6 % of the
// client's profile.)
constexpr size_t kIdleSpareBatches = 2;
constexpr size_t kIdleKeepBatchBytes = 8 * 1024;
constexpr size_t kBusyBatchBytes = 8 * 1024;
// Fields kept in the worker's scratch buffer between batches (20 bytes each): a real message has
// a few dozen; more is a hostile one's, whose room is freed once its batch is delivered.
constexpr size_t kKeepScratchFields = 256;

// Single-writer counters: a load and a store, no locked read-modify-write on the hot path.
void add(std::atomic<uint64_t>& counter, uint64_t n) {
  counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_seq_cst);
}
}  // namespace

MessageWorker::MessageWorker(size_t high_water, size_t high_water_bytes,
                             std::function<void(const Message&)> deliver,
                             std::function<void()> on_drained, std::shared_ptr<WorkerPool> pool)
    : high_water_(high_water < 2 ? 2 : high_water),
      high_water_bytes_(high_water_bytes == 0 ? SIZE_MAX : high_water_bytes),
      deliver_(std::move(deliver)),
      on_drained_(std::move(on_drained)),
      pool_(std::move(pool)),
      lane_(pool_ ? &pool_->attach() : nullptr),
      // Its own stop_source, not the jthread's: one stop() for both modes.
      thread_(pool_ ? std::jthread() : std::jthread([this] { run(stop_.get_token()); })) {}

MessageWorker::~MessageWorker() {
  stop(true);
  join();
  if (pool_) pool_->detach();  // the lane no longer holds this queue (join() saw it finished)
}

void MessageWorker::push(FrameBatch& batch) {
  if (batch.empty()) return;
  const size_t messages = batch.size();
  const size_t bytes = batch.memory_bytes();
  batch.set_queued_bytes(bytes);
  bool wake = false;
  bool schedule = false;
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
    // Pooled: a queue already in its lane's line, or being served, is picked up again by serve().
    if (lane_ != nullptr && !scheduled_ && !serving_) schedule = scheduled_ = true;
  }
  // A busy worker finds the new messages when it comes back for more: only a waiting one needs
  // the notification (a futex call per read otherwise).
  if (wake) ready_.notify_one();
  // Outside the lock; `this` stays valid: scheduled_ keeps join() (and so the destructor) waiting.
  if (schedule) lane_->schedule(this);
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

size_t MessageWorker::spare_bytes() const {
  std::lock_guard lock(mutex_);
  size_t bytes = 0;
  for (const FrameBatch& b : spare_) bytes += b.memory_bytes();
  return bytes;
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
  stop_.request_stop();  // own thread: its condition_variable_any wait wakes with the token
  if (lane_ != nullptr) {
    // A queue that is empty and idle is finished now: wake joiners already waiting. (A non-empty
    // one is scheduled or being served; serve() discards or delivers it and then wakes them.)
    std::lock_guard lock(mutex_);
    finished_cv_.notify_all();
  }
}

bool MessageWorker::finished() const {
  return stop_.stop_requested() && queue_.empty() && !scheduled_ && !serving_;
}

void MessageWorker::join() {
  if (on_worker_thread()) return;  // from inside `deliver`: it cannot wait for itself
  if (lane_ != nullptr) {
    std::unique_lock lock(mutex_);
    finished_cv_.wait(lock, [this] { return finished(); });
    return;
  }
  // Any number of threads may join: the first joins the thread, the others wait for it.
  std::call_once(joined_, [this] { thread_.join(); });
}

void MessageWorker::recycle(std::vector<FrameBatch>& taken) {
  bool busy = false;
  for (FrameBatch& b : taken) {
    busy = busy || b.body_bytes() >= kBusyBatchBytes;
    b.recycle(kKeepBatchBytes);  // outside the lock: may free
  }
  std::vector<FrameBatch> freed;  // destroyed after the lock is released
  std::lock_guard lock(mutex_);
  for (FrameBatch& b : taken) {
    if (spare_.size() < kSpareBatches) spare_.push_back(std::move(b));
  }
  taken.clear();
  if (!queue_.empty()) return;  // the producer is ahead: keep the batches for it
  // Caught up: keep a couple of batches (small ones only if the room went quiet), free the rest.
  const size_t keep_bytes = busy ? kKeepBatchBytes : kIdleKeepBatchBytes;
  const size_t keep_count = busy ? kSpareBatches : kIdleSpareBatches;
  size_t kept = 0;
  for (FrameBatch& b : spare_) {
    if (kept < keep_count && b.memory_bytes() <= keep_bytes) {
      if (&spare_[kept] != &b) spare_[kept] = std::move(b);
      ++kept;
    } else {
      freed.push_back(std::move(b));
    }
  }
  spare_.resize(kept);
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
  for (;;) {
    recycle(taken);
    {
      std::unique_lock lock(mutex_);
      worker_waiting_ = true;
      ready_.wait(lock, stop, [this] { return !queue_.empty(); });
      worker_waiting_ = false;
      if (queue_.empty()) return;  // stopped, and everything was delivered
      taken.swap(queue_);
    }
    if (!deliver_taken(taken)) return;
  }
}

void MessageWorker::serve(WorkerPool::Lane& lane) {
  std::vector<FrameBatch> taken;
  {
    std::lock_guard lock(mutex_);
    scheduled_ = false;
    serving_ = true;
    taken.swap(queue_);
  }
  worker_id_.store(std::this_thread::get_id(), std::memory_order_release);
  deliver_taken(taken);  // stopped without delivering: the rest is discarded, queue_ included
  worker_id_.store(std::thread::id(), std::memory_order_release);
  recycle(taken);
  bool again = false;
  {
    std::lock_guard lock(mutex_);
    serving_ = false;
    // More came while delivering: back of the line, so one busy room does not hold the lane.
    again = scheduled_ = !queue_.empty();
    // Under the lock: once it is released a joiner may destroy *this; nothing touches it after.
    if (!again && stop_.stop_requested()) finished_cv_.notify_all();
  }
  if (again) lane.schedule(this);
}

bool MessageWorker::deliver_taken(std::vector<FrameBatch>& taken) {
  Message message;  // borrows each message of the batch in turn (no copy)
  for (size_t i = 0; i < taken.size(); ++i) {
    FrameBatch& batch = taken[i];
    size_t lent_undecoded = 0;
    size_t decoded_by_callback = 0;
    for (size_t j = 0; j < batch.size(); ++j) {
      if (stop_.stop_requested() && !deliver_pending_on_stop_.load(std::memory_order_acquire)) {
        discard_rest(taken, i, j);
        return false;
      }
      // In the batch's memory: decoded there by the loop thread, or here when the callback first
      // reads more than the type (a batch filled unscanned while this thread had little queued).
      batch.lend(j, message, scratch_);
      const bool undecoded = !message.decoded();
      try {
        deliver_(message);
        if (undecoded) {
          ++lent_undecoded;
          decoded_by_callback += message.decoded() ? 1 : 0;
        }
      } catch (...) {
        // A throwing callback must not take the worker (and every later message) down with it.
        LOG(ERROR) << "exception escaped the message callback (message type '" << message.type()
                   << "'): " << current_exception_text();
      }
      delivered_.store(delivered_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      add(consumed_, 1);
      maybe_drained();
    }
    if (lent_undecoded > 0) {
      callback_reads_fields_.store(2 * decoded_by_callback >= lent_undecoded,
                                   std::memory_order_relaxed);
    }
    // The batch's memory is released with the batch: counted down once, at its end.
    add(consumed_bytes_, batch.queued_bytes());
    // One that outgrew what a spare may keep (a huge frame, its fields scanned here: 1 MiB of
    // "a/a/..." is 10 MiB of fields) is freed now, not with the rest of `taken`, so that at
    // most one scanned batch beyond the queue's byte bound exists at a time.
    if (batch.memory_bytes() > kKeepBatchBytes) batch.recycle(kKeepBatchBytes);
    // The same for the fields of the largest body decoded here (a hostile 1 MiB one: 10 MiB).
    if (scratch_.capacity() > kKeepScratchFields) RawFieldBuffer().swap(scratch_);
    maybe_drained();
  }
  return true;
}

// Stopped without delivering the rest, by option: the messages of taken[from] from
// `first_message` on, of the later batches and of the queue are counted and dropped.
void MessageWorker::discard_rest(std::vector<FrameBatch>& taken, size_t from,
                                 size_t first_message) {
  std::lock_guard lock(mutex_);
  size_t dropped = taken[from].size() - first_message;
  size_t bytes = taken[from].queued_bytes();
  for (size_t i = from + 1; i < taken.size(); ++i) {
    dropped += taken[i].size();
    bytes += taken[i].queued_bytes();
  }
  for (const FrameBatch& b : queue_) {
    dropped += b.size();
    bytes += b.queued_bytes();
  }
  queue_.clear();
  discarded_.fetch_add(dropped, std::memory_order_relaxed);
  add(consumed_bytes_, bytes);
  add(consumed_, dropped);
  LOG(WARNING) << "receive queue stopped with " << dropped
               << " undelivered messages, discarded as requested";
}

}  // namespace asyncore::douyu

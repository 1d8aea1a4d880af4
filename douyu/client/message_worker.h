// message_worker.h — MessageWorker: the tutorial's receive queue and the worker thread that
// drains it into the user's callback ("构建接收数据包队列 / 构建处理数据包线程").
//
// The loop thread pushes the frames of each socket read as one FrameBatch (the bodies, their
// fields scanned or not: one lock per read, not per message); the worker takes the whole queue
// in one swap, lends each frame to its one Message and calls `deliver` with it, in order. A body
// the loop thread left unscanned is lent undecoded and decoded in place when the callback first
// reads more than its type (FrameBatch::lend(i, message, scratch)): a callback that only counts
// or filters by type decodes nothing. The reader scans only while this queue is behind (see
// DouyuClient::handle_read()), so the work of a busy room is split over two cores whichever
// side is slower, and recycled batches mean no allocation per message at steady state.
//
// pending() counts messages pushed but not yet delivered, pending_bytes() the memory of the
// batches holding them (FrameBatch::memory_bytes(): the wire's size, released a batch at a time).
// The owner stops reading the socket while either is at or above its high-water mark (TCP
// back-pressure: memory stays bounded whatever a server sends, nothing is dropped), and
// `on_drained` tells it when both fell back to half their mark.
//
// Counters have one writer each (the producer's pushed_*, the worker's consumed_*), so the hot
// path does plain stores, no read-modify-write shared by both threads; pending = pushed -
// consumed. The pause/drain handshake is a store-then-load on each side (the producer sets
// paused_ then reads the counts; the worker stores a count then reads paused_): both sides use
// seq_cst so that at least one sees the other's write, and a drain is never missed.
//
// Two ways to run `deliver` (the same queue, counters and handshake either way):
//   * its own thread (pool == nullptr, the tutorial's structure): the thread waits on the queue;
//   * a WorkerPool (douyu/client/worker_pool.h): no thread of its own; the queue is bound to one
//   pool
//     thread (a Lane) for its life, which push() schedules when the queue becomes non-empty and
//     which calls serve() to deliver what is queued — in order, never two threads at once. Then
//     join() waits until THIS queue is stopped and empty (not the whole pool).
// Memory: drained batches are kept for reuse while the producer is ahead; once the worker finds
// the queue empty it keeps at most two: of any size while the room is busy (what it just
// delivered was large), small ones only once the room went quiet, so a quiet room does not pin
// the batches of a past burst.
//
// Thread-safe: push() from one producer thread; stop() and join() from any thread (join() from
// inside `deliver` returns at once; several threads may join at the same time).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <stop_token>
#include <thread>
#include <vector>

#include "douyu/client/worker_pool.h"
#include "douyu/protocol/frame_batch.h"
#include "douyu/protocol/message.h"

namespace asyncore::douyu {

class MessageWorker {
 public:
  // high_water: messages; high_water_bytes: FrameBatch::memory_bytes() summed (0: no byte bound).
  // pool: nullptr starts the worker's own thread (throws std::system_error if it cannot); a pool
  // binds the queue to one of its threads and starts none.
  MessageWorker(size_t high_water, size_t high_water_bytes,
                std::function<void(const Message&)> deliver, std::function<void()> on_drained,
                std::shared_ptr<WorkerPool> pool = nullptr);
  ~MessageWorker();  // stop(deliver pending) + join (+ detach from the pool)
  MessageWorker(const MessageWorker&) = delete;
  MessageWorker& operator=(const MessageWorker&) = delete;

  // Queues every frame of `batch`; `batch` comes back empty (a recycled one: no allocation once
  // warm). An empty batch is ignored.
  void push(FrameBatch& batch);
  // True when the producer should stop reading. Also arms the on_drained notification.
  bool should_pause();

  // Ends the worker after it has delivered what is queued (deliver_pending) or right after the
  // message in progress (the rest is counted in discarded() and logged). Idempotent.
  void stop(bool deliver_pending = true);
  void join();
  // True inside `deliver` of THIS queue (on its own thread, or on its pool thread while that
  // thread serves this queue — not while it serves another client's).
  bool on_worker_thread() const {
    return worker_id_.load(std::memory_order_acquire) == std::this_thread::get_id();
  }
  // True on the thread that delivers this queue, whatever it is doing: with a pool, also inside
  // another client's `deliver` on the same lane — where join() would wait for its own thread.
  bool on_delivering_thread() const {
    return lane_ != nullptr ? lane_->on_this_thread() : on_worker_thread();
  }
  bool pooled() const { return lane_ != nullptr; }

  // Pushed and not yet delivered (the message being delivered still counts).
  size_t pending() const;
  size_t pending_bytes() const;
  // The memory of the drained batches kept for reuse (FrameBatch::memory_bytes() of each).
  size_t spare_bytes() const;
  uint64_t delivered() const { return delivered_.load(std::memory_order_relaxed); }
  uint64_t discarded() const { return discarded_.load(std::memory_order_relaxed); }
  size_t high_water() const { return high_water_; }
  // Whether the callback reads the fields of most messages it gets undecoded (more than their
  // type), as seen in the last batch it got so: the reader decodes for the worker only if so
  // (DouyuClient::handle_read()). True until a batch says otherwise.
  bool callback_reads_fields() const {
    return callback_reads_fields_.load(std::memory_order_relaxed);
  }
  size_t low_water() const { return high_water_ / 2; }
  size_t high_water_bytes() const { return high_water_bytes_; }

 private:
  friend class WorkerPool::Lane;

  // Own-thread mode: the thread's body.
  void run(std::stop_token stop);
  // Pooled mode, on the lane's thread: delivers what is queued, then reschedules the queue if
  // more came meanwhile, or wakes the joiners if it is finished.
  void serve(WorkerPool::Lane& lane);
  // Delivers the messages of `taken` in order; false when stopped without delivering the rest
  // (they are discarded: counted and logged).
  bool deliver_taken(std::vector<FrameBatch>& taken);
  // Gives the drained batches of `taken` back to spare_ (trimmed when the queue is empty).
  void recycle(std::vector<FrameBatch>& taken);
  // Pooled: stopped, nothing queued, not scheduled, not being served. mutex_ held.
  bool finished() const;
  bool above_low_water() const;
  // After the worker stored a consumed count: calls on_drained if the producer waits for it.
  void maybe_drained();
  void discard_rest(std::vector<FrameBatch>& taken, size_t from, size_t first_message);

  const size_t high_water_;
  const size_t high_water_bytes_;  // SIZE_MAX when unbounded
  const std::function<void(const Message&)> deliver_;
  const std::function<void()> on_drained_;

  mutable std::mutex mutex_;
  std::condition_variable_any ready_;
  std::vector<FrameBatch> queue_;  // guarded by mutex_
  std::vector<FrameBatch> spare_;  // guarded by mutex_: drained batches, for push() to reuse
  // The delivering thread's only: the fields of the body being delivered, when decoded there.
  RawFieldBuffer scratch_;
  bool worker_waiting_ = false;  // guarded by mutex_: the worker is (about to be) in ready_.wait
  std::atomic<bool> deliver_pending_on_stop_{true};
  // Written by the producer only.
  std::atomic<uint64_t> pushed_{0};
  std::atomic<uint64_t> pushed_bytes_{0};
  // Written by the worker only: delivered or discarded.
  std::atomic<uint64_t> consumed_{0};
  std::atomic<uint64_t> consumed_bytes_{0};
  std::atomic<uint64_t> delivered_{0};
  std::atomic<uint64_t> discarded_{0};
  std::atomic<bool> paused_{false};
  std::atomic<bool> callback_reads_fields_{true};  // written by the worker only
  std::atomic<std::thread::id> worker_id_{};       // set while `deliver` may run on that thread
  std::stop_source stop_;                          // stop(): both modes
  // Pooled mode: the pool (kept alive by this queue) and the lane bound for life.
  std::shared_ptr<WorkerPool> pool_;
  WorkerPool::Lane* lane_ = nullptr;
  bool scheduled_ = false;               // guarded by mutex_: in the lane's line, not yet served
  bool serving_ = false;                 // guarded by mutex_: the lane is delivering this queue
  std::condition_variable finished_cv_;  // pooled join() waits on it (with mutex_)
  std::once_flag joined_;
  std::jthread thread_;  // last: starts after the members above exist (own-thread mode only)
};

}  // namespace asyncore::douyu

// worker_pool.h — WorkerPool: N worker threads shared by many DouyuClients (many rooms in one
// process), instead of one MessageWorker thread per client.
//
//   auto pool = std::make_shared<WorkerPool>(4);
//   DouyuClientOptions o;  o.worker_pool = pool;  // this client starts no thread of its own
//
// Each client's receive queue (a MessageWorker in pooled mode) is bound to ONE pool thread, a
// Lane, for its whole life (round-robin at construction): a room's messages are delivered in
// order, and never by two threads at once. A lane serves its queues one at a time, in the order
// they became non-empty, each for everything queued when its turn came; a queue that is still
// non-empty goes to the back of the line. So a slow callback of room A delays the rooms on A's
// lane — never the rooms of the other lanes, and never the reading (the loop thread only queues).
//
// Lifetime: a pooled MessageWorker holds a shared_ptr to its pool, so the pool lives as long as
// the last client using it, whoever else drops it: a pool cannot be destroyed under a client.
// (A pool owned some other way and destroyed while clients are attached, or destroyed on one of
// its own threads — the last client destroyed inside a callback — is a LOG(FATAL) naming it.)
// ~WorkerPool stops and joins its threads.
//
// Thread-safe: size() and attached() from any thread. The constructor throws std::system_error
// ("WorkerPool: cannot start its threads: ...") when a thread cannot be created (the threads it
// did start are stopped and joined first), std::invalid_argument for 0 threads.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <stop_token>
#include <thread>
#include <vector>

namespace asyncore::douyu {

class MessageWorker;

class WorkerPool {
 public:
  // One pool thread and the queues it serves.
  class Lane {
   public:
    Lane();
    ~Lane();  // stop + join
    Lane(const Lane&) = delete;
    Lane& operator=(const Lane&) = delete;
    // Thread-safe: `worker` has messages (or must finish its stop); the lane calls its serve().
    // The caller guarantees `worker` is scheduled at most once at a time and outlives the call.
    void schedule(MessageWorker* worker);
    bool on_this_thread() const { return std::this_thread::get_id() == id_; }
    void stop() { thread_.request_stop(); }

   private:
    void run(const std::stop_token& stop);

    std::mutex mutex_;
    std::condition_variable_any ready_;
    std::deque<MessageWorker*> queue_;  // guarded by mutex_
    bool waiting_ = false;              // guarded by mutex_: the thread is in ready_.wait
    std::thread::id id_;                // of thread_, set once by the constructor
    std::jthread thread_;               // last: starts after the members above exist
  };

  explicit WorkerPool(size_t threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  size_t size() const { return lanes_.size(); }
  // Receive queues currently bound to the pool (for tests and metrics).
  size_t attached() const { return attached_.load(std::memory_order_relaxed); }

 private:
  friend class MessageWorker;
  // Binds a new queue to the next lane (round-robin); detach() when the queue is gone.
  Lane& attach();
  void detach() { attached_.fetch_sub(1, std::memory_order_relaxed); }

  std::vector<std::unique_ptr<Lane>> lanes_;
  std::atomic<size_t> next_{0};
  std::atomic<size_t> attached_{0};
};

}  // namespace asyncore::douyu

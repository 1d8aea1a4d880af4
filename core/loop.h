// loop.h — Loop: asyncore's socket map and asyncore.loop(), on a libevent event_base.
//
// One Loop drives any number of Dispatchers. Each turn it asks every open dispatcher readable() /
// writable() (as asyncore's poll() does), re-arms libevent interest only where an answer changed,
// waits at most `timeout` seconds, runs what is ready (socket events, timers, cross-thread calls),
// and then releases the dispatchers closed during the turn.
//
// THREADS: a Loop and its dispatchers belong to the thread that runs loop(). Only the methods
// marked "thread-safe" may be called from other threads; they wake the loop through libevent's
// own notification (evthread_use_pthreads), so they take effect within a millisecond, not after a
// poll timeout. The rule for every other ("loop-only") method: while loop()/run_forever() runs on
// thread T, call it on T only; while no loop runs, any one thread may use the Loop (e.g. set it up
// on main, run it on a thread, destroy it after the join). Debug builds and builds with
// ASYNCORE_THREAD_CHECKS (the sanitizer builds) enforce this: a call from another thread while the
// loop runs is a LOG(FATAL) "Loop::call_later called from thread X while the loop runs on thread
// Y". thread_checks_enabled() says whether this build checks.
//
// SIGPIPE: constructing the first Loop sets SIGPIPE to SIG_IGN, process-wide, when it is still
// SIG_DFL (a handler or disposition the program chose is left alone). Why: FileDispatcher writes
// to pipes with write(), which has no MSG_NOSIGNAL, and a reader that went away must surface as
// EPIPE (a disconnect, handle_close()) rather than kill the process. Sockets send with
// MSG_NOSIGNAL and do not depend on it. A program that wants the default back may restore it after
// constructing its Loop; a write to a closed pipe then kills it.
//
// SHUTDOWN: ~Loop closes every dispatcher in the map, drops the timers, and drops the
// call_soon_threadsafe() calls still queued without running them (one WARNING gives their
// number; their captured state is destroyed on the destroying thread, before the map and the
// event_base go).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

struct event_base;
struct event;
struct evdns_base;

namespace asyncore {

class Dispatcher;

using TimerId = uint64_t;

class Loop {
 public:
  Loop();
  ~Loop();  // drops queued calls unrun, then closes every dispatcher still in the map (SHUTDOWN)
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  // asyncore.loop(timeout=30.0, count=None): runs turns until the map is empty and no timer,
  // hold or queued call is pending, or `count` turns have run, or stop() was called. `timeout`
  // (seconds) bounds one wait (see poll()). Returns the number of turns run. Loop-only.
  uint64_t loop(double timeout = 30.0, std::optional<uint64_t> count = std::nullopt);
  // Runs turns until stop(), whatever the map holds (an empty map too), running every
  // call_soon_threadsafe() call: for a loop thread started before anything is in the map.
  // Returns the number of turns run. Loop-only (it makes the calling thread the loop thread).
  uint64_t run_forever(double timeout = 30.0);
  // asyncore.poll(timeout): exactly one turn. A timeout <= 0 does not wait; one above
  // kMaxDelaySeconds (infinity too) waits at most kMaxDelaySeconds; NaN throws
  // std::invalid_argument. Loop-only.
  void poll(double timeout = 0.0);

  // Thread-safe. Ends the loop()/run_forever() that is running, after its current turn; when
  // none is running, the next one to start returns at once (having run no turn). At most one
  // request is pending: stop() twice before a loop ends that one loop only. A loop() that
  // returns for any reason (stopped, map empty, count reached) takes every request made while it
  // ran with it, so a stop() aimed at a loop that ended on its own does not end the next one.
  void stop();
  // Thread-safe. Ends the current wait so the next turn asks readable()/writable() again.
  void wake();
  // Thread-safe. Runs fn on the loop thread during the next turn, in call order. An exception
  // escaping fn is logged (ERROR) and the loop goes on. Calls still queued when the Loop is
  // destroyed are dropped unrun (see SHUTDOWN above).
  void call_soon_threadsafe(std::function<void()> fn);

  // The longest delay call_later()/call_every() accept and the longest wait poll() makes (about
  // 31 years): libevent adds a delay to the current time in a time_t.
  static constexpr double kMaxDelaySeconds = 1e9;

  // Timers (loop-only). An exception escaping fn is logged; the loop goes on. `seconds`: a
  // negative delay counts as 0 (as asyncio's call_later: run on the next turn); NaN, infinity
  // and delays above kMaxDelaySeconds throw std::invalid_argument. A call_every() interval
  // below 1 µs (0 or negative too) counts as 1 µs: fn then runs on about every turn.
  TimerId call_later(double seconds, std::function<void()> fn);
  TimerId call_every(double seconds, std::function<void()> fn);
  // Returns false when the timer already ran (one-shot) or was cancelled. Safe inside fn.
  bool cancel(TimerId id);

  // asyncore.close_all(): calls close() — the subclass's override, close() being virtual — on
  // every dispatcher in the map. Loop-only.
  void close_all();
  // Number of open dispatchers in the map (asyncore: len(socket_map)).
  size_t size() const { return map_.size() - holes_; }
  size_t timer_count() const { return timers_.size(); }
  bool running() const { return running_; }
  // True while a turn (poll()) runs on this loop: inside a handler, timer or queued call. Loop
  // thread only. poll() itself throws std::logic_error when called inside a turn.
  bool in_turn() const { return in_turn_; }
  // True on the thread running loop(), or on the constructing thread before loop() ever ran.
  bool in_loop_thread() const { return std::this_thread::get_id() == owner_.load(); }
  // Turns run since construction (for tests and statistics).
  uint64_t turns() const { return turns_; }
  // Whether this build checks loop-thread affinity (see THREADS above).
  static bool thread_checks_enabled();
  // LOG(FATAL) when a loop runs on another thread than the caller's (see THREADS). `method`
  // names the caller in the message, e.g. "Loop::call_later".
  void check_loop_thread(const char* method) const;

  event_base* base() const { return base_; }

  // The evdns resolver (created on first use). By default it reads /etc/resolv.conf and
  // /etc/hosts; set_dns_nameservers() (before first use) replaces resolv.conf, e.g.
  // "127.0.0.1:5300".
  evdns_base* dns();
  void set_dns_nameservers(std::vector<std::string> nameservers);
  // Thread-safe (atomic). Keeps loop() running while something outside the map is pending (e.g.
  // a DNS lookup). A hold() from another thread keeps a loop() running only if it lands before
  // that loop() saw nothing to do and returned: to keep a loop thread alive whatever the map
  // holds, use run_forever(). release_hold() without a matching hold() is a LOG(FATAL).
  void hold() { holds_.fetch_add(1, std::memory_order_relaxed); }
  void release_hold();

 private:
  friend class Dispatcher;
  struct Timer;

  void add_channel(Dispatcher* d);
  void del_channel(Dispatcher* d);
  void release_after_turn(std::shared_ptr<Dispatcher> d);
  void ask_dispatchers();
  void run_pending_calls();
  void fire_timer(Timer* t);
  bool pending_calls_empty();
  bool has_work() const {
    return size() > 0 || !timers_.empty() || holds_.load(std::memory_order_relaxed) > 0;
  }
  uint64_t run(double timeout, std::optional<uint64_t> count, bool forever);
  void drop_pending_calls();
  static void on_wake(int, short, void* arg);
  static void on_timer(int, short, void* arg);
  static void on_turn_timeout(int, short, void*) {}

  event_base* base_ = nullptr;
  event* wake_event_ = nullptr;
  event* turn_timeout_event_ = nullptr;
  evdns_base* dns_ = nullptr;
  std::vector<std::string> nameservers_;

  // The socket map. A slot is nulled (a "hole") when its dispatcher leaves while every
  // dispatcher is being asked; holes are compacted after that pass.
  std::vector<Dispatcher*> map_;
  size_t holes_ = 0;
  bool asking_ = false;
  std::vector<std::shared_ptr<Dispatcher>> closed_this_turn_;
  std::vector<std::shared_ptr<Dispatcher>> releasing_;  // swapped with closed_this_turn_
  void release_closed();

  std::unordered_map<TimerId, std::unique_ptr<Timer>> timers_;
  std::vector<std::unique_ptr<Timer>> finished_timers_;
  TimerId next_timer_id_ = 1;
  std::atomic<int> holds_{0};

  std::mutex pending_mutex_;
  std::vector<std::function<void()>> pending_calls_;  // guarded by pending_mutex_
  std::vector<std::function<void()>> running_calls_;  // loop thread only; swapped with pending
  std::atomic<bool> stop_requested_{false};
  std::atomic<std::thread::id> owner_;
  // The thread running loop()/run_forever(); empty (std::thread::id()) while none runs.
  std::atomic<std::thread::id> loop_thread_{};
  bool running_ = false;
  bool in_turn_ = false;
  uint64_t turns_ = 0;
};

}  // namespace asyncore

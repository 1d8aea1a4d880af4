// loop.h — Loop: asyncore's socket map and asyncore.loop(), on a libevent event_base.
//
// One Loop drives any number of Dispatchers. Each turn it asks every open dispatcher readable() /
// writable() (as asyncore's poll() does), re-arms libevent interest only where an answer changed,
// waits at most `timeout` seconds, runs what is ready (socket events, timers, cross-thread calls),
// and then releases the dispatchers closed during the turn.
//
// Threads: a Loop and its dispatchers belong to the thread that runs loop(). Only the methods
// marked "thread-safe" may be called from other threads; they wake the loop through libevent's
// own notification (evthread_use_pthreads), so they take effect within a millisecond, not after a
// poll timeout.
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
  ~Loop();  // closes every dispatcher still in the map
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  // asyncore.loop(timeout=30.0, count=None): runs turns until the map is empty and no timer or
  // DNS lookup is pending, or `count` turns have run, or stop() was called. `timeout` (seconds)
  // bounds one wait. Returns the number of turns run.
  uint64_t loop(double timeout = 30.0, std::optional<uint64_t> count = std::nullopt);
  // asyncore.poll(timeout): exactly one turn.
  void poll(double timeout = 0.0);

  // Thread-safe. Ends loop() after the current turn. A request is never lost: one that arrives
  // before loop() starts, or while it returns for another reason, ends the next loop() at once.
  // Each request ends exactly one loop().
  void stop();
  // Thread-safe. Ends the current wait so the next turn asks readable()/writable() again.
  void wake();
  // Thread-safe. Runs fn on the loop thread during the next turn, in call order.
  void call_soon_threadsafe(std::function<void()> fn);

  // Timers (loop thread only). An exception escaping fn is logged; the loop goes on.
  TimerId call_later(double seconds, std::function<void()> fn);
  TimerId call_every(double seconds, std::function<void()> fn);
  // Returns false when the timer already ran (one-shot) or was cancelled. Safe inside fn.
  bool cancel(TimerId id);

  // asyncore.close_all(): closes every dispatcher in the map.
  void close_all();
  // Number of open dispatchers in the map (asyncore: len(socket_map)).
  size_t size() const { return map_.size() - holes_; }
  size_t timer_count() const { return timers_.size(); }
  bool running() const { return running_; }
  // True on the thread running loop(), or on the constructing thread before loop() ever ran.
  bool in_loop_thread() const { return std::this_thread::get_id() == owner_.load(); }
  // Turns run since construction (for tests and statistics).
  uint64_t turns() const { return turns_; }

  event_base* base() const { return base_; }

  // The evdns resolver (created on first use). By default it reads /etc/resolv.conf and
  // /etc/hosts; set_dns_nameservers() (before first use) replaces resolv.conf, e.g.
  // "127.0.0.1:5300".
  evdns_base* dns();
  void set_dns_nameservers(std::vector<std::string> nameservers);
  // Keeps loop() running while something outside the map is pending (e.g. a DNS lookup).
  void hold() { ++holds_; }
  void release_hold() { --holds_; }

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
  bool has_work() const { return size() > 0 || !timers_.empty() || holds_ > 0; }
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
  int holds_ = 0;

  std::mutex pending_mutex_;
  std::vector<std::function<void()>> pending_calls_;  // guarded by pending_mutex_
  std::vector<std::function<void()>> running_calls_;  // loop thread only; swapped with pending
  std::atomic<bool> stop_requested_{false};
  std::atomic<std::thread::id> owner_;
  bool running_ = false;
  uint64_t turns_ = 0;
};

}  // namespace asyncore

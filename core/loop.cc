#include "core/loop.h"

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <glog/logging.h>
#include <signal.h>

#include <cmath>
#include <sstream>
#include <stdexcept>

#include "core/dispatcher.h"
#include "core/exception_text.h"
#include "core/thread_check.h"

namespace asyncore {

struct Loop::Timer {
  Loop* loop;
  TimerId id;
  event* ev = nullptr;
  std::function<void()> fn;
  bool repeat;
  ~Timer() {
    if (ev != nullptr) event_free(ev);
  }
};

namespace {

// `seconds` already checked: finite and within [0, kMaxDelaySeconds], or <= 0 for "no wait".
timeval to_timeval(double seconds) {
  if (!(seconds > 0)) return timeval{0, 0};
  double whole = std::floor(seconds);
  return timeval{static_cast<time_t>(whole), static_cast<suseconds_t>((seconds - whole) * 1e6)};
}

// A timer delay as a timeval: negative counts as 0; NaN, infinity and delays above
// kMaxDelaySeconds throw (converting them to time_t would be undefined behaviour).
timeval delay_to_timeval(double seconds, const char* method) {
  if (std::isnan(seconds) || std::isinf(seconds) || seconds > Loop::kMaxDelaySeconds) {
    std::ostringstream message;
    message << method << ": a delay of " << seconds
            << " seconds cannot be scheduled (it must be a finite number of seconds, at most "
               "Loop::kMaxDelaySeconds = "
            << Loop::kMaxDelaySeconds << ")";
    throw std::invalid_argument(message.str());
  }
  return to_timeval(seconds);
}

void init_libevent_once() {
  static const bool done = [] {
    // Must precede event_base_new(): makes event_active() from other threads safe and lets it
    // wake a waiting base.
    if (evthread_use_pthreads() != 0) LOG(FATAL) << "evthread_use_pthreads() failed";
    // A write to a peer that left must surface as EPIPE (a disconnect), not kill the process.
    // Sockets use MSG_NOSIGNAL; this covers pipes driven by FileDispatcher.
    struct sigaction old {};
    if (sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) {
      signal(SIGPIPE, SIG_IGN);
    }
    return true;
  }();
  (void)done;
}

}  // namespace

Loop::Loop() : owner_(std::this_thread::get_id()) {
  init_libevent_once();
  base_ = event_base_new();
  if (base_ == nullptr) throw std::runtime_error("event_base_new() failed");
  wake_event_ = event_new(base_, -1, 0, &Loop::on_wake, this);
  turn_timeout_event_ = event_new(base_, -1, 0, &Loop::on_turn_timeout, this);
  if (wake_event_ == nullptr || turn_timeout_event_ == nullptr) {
    throw std::runtime_error("event_new() failed for the loop's own events");
  }
}

Loop::~Loop() {
  ASYNCORE_CHECK_LOOP_THREAD(*this, "Loop::~Loop");
  drop_pending_calls();
  close_all();
  release_closed();
  timers_.clear();
  finished_timers_.clear();
  if (dns_ != nullptr) {
    // close_all() cancelled pending lookups; libevent completes a cancellation from a deferred
    // callback, which only a turn of the base runs (else the requests and their DnsLookup leak).
    for (int i = 0; i < 4 && holds_.load() > 0; ++i)
      event_base_loop(base_, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    evdns_base_free(dns_, /*fail_requests=*/1);
  }
  event_free(wake_event_);
  event_free(turn_timeout_event_);
  event_base_free(base_);
}

uint64_t Loop::loop(double timeout, std::optional<uint64_t> count) {
  ASYNCORE_CHECK_LOOP_THREAD(*this, "Loop::loop");
  return run(timeout, count, /*forever=*/false);
}

uint64_t Loop::run_forever(double timeout) {
  ASYNCORE_CHECK_LOOP_THREAD(*this, "Loop::run_forever");
  return run(timeout, std::nullopt, /*forever=*/true);
}

uint64_t Loop::run(double timeout, std::optional<uint64_t> count, bool forever) {
  const std::thread::id self = std::this_thread::get_id();
  owner_ = self;
  // Nested (a loop() inside a handler): restore the outer loop's state on return.
  const std::thread::id outer_thread = loop_thread_.exchange(self, std::memory_order_acq_rel);
  const bool outer_running = running_;
  running_ = true;
  uint64_t turns = 0;
  for (;;) {
    // A request made while no loop ran (pending) or during this one ends this one.
    if (stop_requested_.exchange(false, std::memory_order_acq_rel)) break;
    if (count && turns >= *count) break;
    if (!forever && !has_work() && pending_calls_empty()) break;
    poll(timeout);
    ++turns;
  }
  // Requests made while this loop ran were aimed at it, even if it ended for another reason: a
  // stale one must not end the next loop().
  stop_requested_.store(false, std::memory_order_release);
  running_ = outer_running;
  loop_thread_.store(outer_thread, std::memory_order_release);
  return turns;
}

bool Loop::thread_checks_enabled() { return ASYNCORE_THREAD_CHECKS_ON != 0; }

void Loop::check_loop_thread(const char* method) const {
  const std::thread::id running = loop_thread_.load(std::memory_order_acquire);
  const std::thread::id self = std::this_thread::get_id();
  if (running == std::thread::id() || running == self) return;
  LOG(FATAL) << method << " called from thread " << self << " while the loop runs on thread "
             << running << " (loop-only methods must be called on the loop thread; use "
             << "Loop::call_soon_threadsafe())";
}

void Loop::release_hold() {
  if (holds_.fetch_sub(1, std::memory_order_relaxed) <= 0) {
    LOG(FATAL) << "Loop::release_hold() without a matching hold()";
  }
}

void Loop::drop_pending_calls() {
  // Destroying a dropped call's captured state may queue another call: repeat until none is left.
  for (;;) {
    std::vector<std::function<void()>> dropped;
    {
      std::lock_guard lock(pending_mutex_);
      dropped.swap(pending_calls_);
    }
    if (dropped.empty()) return;
    LOG(WARNING) << "~Loop: dropping " << dropped.size()
                 << " call_soon_threadsafe() call(s) still queued, without running them";
  }
}

bool Loop::pending_calls_empty() {
  std::lock_guard lock(pending_mutex_);
  return pending_calls_.empty();
}

void Loop::poll(double timeout) {
  ASYNCORE_CHECK_LOOP_THREAD(*this, "Loop::poll");
  if (std::isnan(timeout)) throw std::invalid_argument("Loop::poll: the timeout is NaN");
  if (timeout > kMaxDelaySeconds) timeout = kMaxDelaySeconds;  // infinity: "wait", bounded
  // A turn inside a turn (poll() from a handler, a timer or a queued call) would release the
  // dispatchers closed so far while their handlers are still on the stack, and libevent refuses
  // a reentrant event_base_loop anyway.
  if (in_turn_) {
    throw std::logic_error(
        "Loop::poll called inside a turn of the same loop (from a handler, "
        "a timer or a queued call)");
  }
  in_turn_ = true;
  struct EndTurn {
    bool& flag;
    ~EndTurn() { flag = false; }
  } end_turn{in_turn_};
  ask_dispatchers();
  if (timeout > 0) {
    timeval tv = to_timeval(timeout);
    evtimer_add(turn_timeout_event_, &tv);
    event_base_loop(base_, EVLOOP_ONCE);
  } else {
    // ONCE as well: NONBLOCK alone keeps dispatching while anything is active, so one always
    // writable socket would make a zero-timeout turn never end.
    event_base_loop(base_, EVLOOP_ONCE | EVLOOP_NONBLOCK);
  }
  // Cross-thread calls run here, after the wait, rather than in the wake event's callback: a
  // call queued by a running call then waits for the next turn instead of running in this one
  // (libevent would run a re-activated event again within the same dispatch, forever).
  run_pending_calls();
  ++turns_;
  // Only now: handlers of this turn may still have used `this` of a dispatcher they closed.
  release_closed();
  finished_timers_.clear();
}

void Loop::ask_dispatchers() {
  asking_ = true;
  // Dispatchers added while asking are appended and asked too; ones that leave become holes.
  for (size_t i = 0; i < map_.size(); ++i) {
    Dispatcher* d = map_[i];
    if (d != nullptr) d->update_interest();
  }
  asking_ = false;
  if (holes_ > 0) {
    size_t out = 0;
    for (Dispatcher* d : map_) {
      if (d == nullptr) continue;
      d->map_index_ = out;
      map_[out++] = d;
    }
    map_.resize(out);
    holes_ = 0;
  }
}

void Loop::stop() {
  stop_requested_.store(true, std::memory_order_release);
  wake();
}

void Loop::wake() { event_active(wake_event_, EV_READ, 0); }

void Loop::call_soon_threadsafe(std::function<void()> fn) {
  {
    std::lock_guard lock(pending_mutex_);
    pending_calls_.push_back(std::move(fn));
  }
  wake();
}

// Only ends the wait; poll() runs the queued calls after it.
void Loop::on_wake(int, short, void*) {}

void Loop::run_pending_calls() {
  {
    std::lock_guard lock(pending_mutex_);
    running_calls_.swap(pending_calls_);
  }
  for (auto& fn : running_calls_) {
    try {
      fn();
    } catch (...) {
      LOG(ERROR) << "exception escaped a call_soon_threadsafe() function: "
                 << current_exception_text();
    }
  }
  running_calls_.clear();  // keeps capacity: no allocation per wake-up
}

TimerId Loop::call_later(double seconds, std::function<void()> fn) {
  ASYNCORE_CHECK_LOOP_THREAD(*this, "Loop::call_later");
  const timeval tv = delay_to_timeval(seconds, "Loop::call_later");
  auto timer =
      std::make_unique<Timer>(Timer{this, next_timer_id_++, nullptr, std::move(fn), false});
  Timer* t = timer.get();
  t->ev = event_new(base_, -1, 0, &Loop::on_timer, t);
  evtimer_add(t->ev, &tv);
  timers_.emplace(t->id, std::move(timer));
  return t->id;
}

TimerId Loop::call_every(double seconds, std::function<void()> fn) {
  ASYNCORE_CHECK_LOOP_THREAD(*this, "Loop::call_every");
  timeval tv = delay_to_timeval(seconds, "Loop::call_every");
  // libevent does not re-arm a persistent timer with a zero interval (it would fire once).
  if (tv.tv_sec == 0 && tv.tv_usec == 0) tv.tv_usec = 1;
  auto timer = std::make_unique<Timer>(Timer{this, next_timer_id_++, nullptr, std::move(fn), true});
  Timer* t = timer.get();
  t->ev = event_new(base_, -1, EV_PERSIST, &Loop::on_timer, t);
  evtimer_add(t->ev, &tv);
  timers_.emplace(t->id, std::move(timer));
  return t->id;
}

bool Loop::cancel(TimerId id) {
  ASYNCORE_CHECK_LOOP_THREAD(*this, "Loop::cancel");
  auto it = timers_.find(id);
  if (it == timers_.end()) return false;
  event_del(it->second->ev);
  // Freed after the turn: cancel() may be running inside this very timer's function.
  finished_timers_.push_back(std::move(it->second));
  timers_.erase(it);
  return true;
}

void Loop::on_timer(int, short, void* arg) {
  auto* t = static_cast<Timer*>(arg);
  t->loop->fire_timer(t);
}

void Loop::fire_timer(Timer* t) {
  if (!t->repeat) {
    auto it = timers_.find(t->id);
    finished_timers_.push_back(std::move(it->second));
    timers_.erase(it);
  }
  try {
    t->fn();
  } catch (...) {
    LOG(ERROR) << "exception escaped timer " << t->id << ": " << current_exception_text();
  }
}

void Loop::close_all() {
  ASYNCORE_CHECK_LOOP_THREAD(*this, "Loop::close_all");
  std::vector<Dispatcher*> all;
  all.reserve(map_.size());
  for (Dispatcher* d : map_) {
    if (d != nullptr) all.push_back(d);
  }
  // Keep shared-owned dispatchers alive until every close() has returned.
  std::vector<std::shared_ptr<Dispatcher>> keep;
  for (Dispatcher* d : all) {
    if (d->self_) keep.push_back(d->self_);
  }
  for (Dispatcher* d : all) d->close();
}

evdns_base* Loop::dns() {
  if (dns_ != nullptr) return dns_;
  if (nameservers_.empty()) {
    dns_ = evdns_base_new(base_, EVDNS_BASE_INITIALIZE_NAMESERVERS);
  } else {
    dns_ = evdns_base_new(base_, 0);
    for (const auto& ns : nameservers_) {
      if (evdns_base_nameserver_ip_add(dns_, ns.c_str()) != 0) {
        LOG(ERROR) << "evdns: cannot use nameserver '" << ns << "'";
      }
    }
  }
  if (dns_ == nullptr) throw std::runtime_error("evdns_base_new() failed");
  evdns_base_load_hosts(dns_, nullptr);  // "localhost" and friends from /etc/hosts
  return dns_;
}

void Loop::set_dns_nameservers(std::vector<std::string> nameservers) {
  if (dns_ != nullptr) {
    throw std::logic_error("set_dns_nameservers() must precede the first DNS lookup");
  }
  nameservers_ = std::move(nameservers);
}

void Loop::add_channel(Dispatcher* d) {
  ASYNCORE_CHECK_LOOP_THREAD(*this, "Loop::add_channel");
  d->map_index_ = map_.size();
  d->in_map_ = true;
  map_.push_back(d);
}

void Loop::del_channel(Dispatcher* d) {
  if (!d->in_map_) return;
  ASYNCORE_CHECK_LOOP_THREAD(*this, "Loop::del_channel");
  d->in_map_ = false;
  size_t i = d->map_index_;
  if (asking_) {
    map_[i] = nullptr;
    ++holes_;
    return;
  }
  Dispatcher* last = map_.back();
  map_[i] = last;
  last->map_index_ = i;
  map_.pop_back();
}

void Loop::release_closed() {
  // A destructor run here may close (and so append) other dispatchers: never clear the vector
  // being appended to; swap it out and repeat until nothing more was released.
  while (!closed_this_turn_.empty()) {
    releasing_.swap(closed_this_turn_);
    releasing_.clear();
  }
}

void Loop::release_after_turn(std::shared_ptr<Dispatcher> d) {
  closed_this_turn_.push_back(std::move(d));
}

}  // namespace asyncore

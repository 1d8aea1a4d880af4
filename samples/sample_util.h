// sample_util.h — what every sample that listens shares: stopping cleanly on SIGINT/SIGTERM, and
// raising the descriptor limit. Header-only; samples only.
#pragma once

#include <event2/event.h>
#include <glog/logging.h>
#include <signal.h>
#include <sys/resource.h>

#include <functional>
#include <vector>

#include "core/loop.h"

namespace samples {

// Stops `loop` on SIGINT or SIGTERM, through libevent's signal events on the loop's base: the
// handler runs on the loop thread, from the loop, so it may touch dispatchers. Declare it after
// the Loop (it must be destroyed first).
class StopOnSignals {
 public:
  explicit StopOnSignals(asyncore::Loop& loop, std::function<void(int)> on_signal = {})
      : loop_(loop), on_signal_(std::move(on_signal)) {
    for (int sig : {SIGINT, SIGTERM}) {
      event* ev = evsignal_new(loop.base(), sig, &StopOnSignals::on_event, this);
      if (ev == nullptr || evsignal_add(ev, nullptr) != 0) {
        LOG(FATAL) << "cannot watch signal " << sig;
      }
      events_.push_back(ev);
    }
  }
  ~StopOnSignals() {
    for (event* ev : events_) event_free(ev);
  }
  StopOnSignals(const StopOnSignals&) = delete;
  StopOnSignals& operator=(const StopOnSignals&) = delete;

 private:
  static void on_event(evutil_socket_t sig, short, void* arg) {
    auto* self = static_cast<StopOnSignals*>(arg);
    if (self->on_signal_) self->on_signal_(static_cast<int>(sig));
    self->loop_.stop();
  }
  asyncore::Loop& loop_;
  std::function<void(int)> on_signal_;
  std::vector<event*> events_;
};

// Raises the soft RLIMIT_NOFILE to the hard limit (a server with many clients needs descriptors).
inline void raise_fd_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

}  // namespace samples

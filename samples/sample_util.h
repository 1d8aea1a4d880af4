// sample_util.h — what every sample that listens shares: stopping cleanly on SIGINT/SIGTERM, and
// raising the descriptor limit. Header-only; samples only.
#pragma once

#include <signal.h>
#include <sys/resource.h>

#include <functional>
#include <utility>

#include "core/loop.h"
#include "core/signals.h"

namespace samples {

// Stops `loop` on SIGINT or SIGTERM, through the library's SignalHandler (libevent signal
// events): the callback runs on the loop thread, from the loop, so it may touch dispatchers.
// Declare it after the Loop (it must be destroyed first).
class StopOnSignals {
 public:
  explicit StopOnSignals(asyncore::Loop& loop, std::function<void(int)> on_signal = {})
      : handler_(loop, {SIGINT, SIGTERM}, [&loop, on_signal = std::move(on_signal)](int sig) {
          if (on_signal) on_signal(sig);
          loop.stop();
        }) {}

 private:
  asyncore::SignalHandler handler_;
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

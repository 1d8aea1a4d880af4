// signals.h — SignalHandler: POSIX signals delivered as callbacks on the loop thread.
//
//   asyncore::Loop loop;
//   asyncore::SignalHandler stop(loop, {SIGINT, SIGTERM}, [&](int) { loop.stop(); });
//
// Built on libevent's signal events (evsignal_new) on the loop's event_base: the C handler only
// records the signal; `fn` runs later, on the loop thread, from a turn of the loop, so it may touch
// dispatchers, timers and the Loop freely (unlike a raw signal handler, where almost nothing is
// async-signal-safe). RAII: the destructor stops watching and libevent restores the signal's
// previous disposition. Construct and destroy it on the loop thread, after the Loop is
// constructed and before it is destroyed.
//
// libevent delivers signals to one event_base per process at a time: watch signals on one Loop.
// A watched signal does not by itself keep loop() running (it is not in the map); run_forever()
// or something in the map does.
#pragma once

#include <functional>
#include <initializer_list>
#include <vector>

#include "core/loop.h"

struct event;

namespace asyncore {

class SignalHandler {
 public:
  // Watches each of `signals`; fn(signal number) runs on the loop thread for each delivery
  // (several deliveries of one signal within a turn may run fn once). An exception escaping fn is
  // logged and dropped. Throws std::runtime_error when libevent cannot watch a signal.
  SignalHandler(Loop& loop, std::initializer_list<int> signals, std::function<void(int)> fn);
  ~SignalHandler();
  SignalHandler(const SignalHandler&) = delete;
  SignalHandler& operator=(const SignalHandler&) = delete;

 private:
  static void on_signal(int signal, short, void* arg);
  void release();

  Loop& loop_;
  std::function<void(int)> fn_;
  std::vector<event*> events_;
};

}  // namespace asyncore

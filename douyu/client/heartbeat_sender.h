// heartbeat_sender.h — HeartbeatSender: what DouyuClient needs of its heartbeat, whoever keeps the
// time.
//
// Calls `beat` every interval while triggered; the first beat comes one interval after
// trigger() (the login itself proves the connection alive); triggering again restarts the
// interval; pause() stops the beats until the next trigger(); stop() ends them for good.
// Two implementations:
//   * HeartbeatThread (heartbeat_thread.h): the tutorial's heartbeat thread, one per client;
//   * HeartbeatTimer (heartbeat_timer.h): a timer on the client's Loop — no thread, for many
//     clients in one process (DouyuClientOptions::worker_pool).
//
// Thread-safe: trigger(), pause(), stop(), join(), triggered() and beats() from any thread.
#pragma once

#include <cstdint>

namespace asyncore::douyu {

class HeartbeatSender {
 public:
  virtual ~HeartbeatSender() = default;
  virtual void trigger() = 0;
  virtual void pause() = 0;
  virtual void stop() = 0;
  // Waits until no beat can run any more (after stop()); returns at once from inside `beat`.
  virtual void join() = 0;
  virtual bool triggered() const = 0;
  virtual uint64_t beats() const = 0;
};

}  // namespace asyncore::douyu

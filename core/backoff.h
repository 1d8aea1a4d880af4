// backoff.h — Backoff: exponential reconnect delays with jitter, so that a thousand clients
// dropped by one server outage do not all come back in the same millisecond.
#pragma once

#include <algorithm>
#include <chrono>
#include <random>

namespace asyncore {

class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max,
          uint64_t seed = std::random_device{}())
      : initial_(initial), max_(std::max(max, initial)), next_(initial), rng_(seed) {}

  // The delay before the next attempt: the current step ±20 %, then the step doubles (capped).
  std::chrono::milliseconds next() {
    std::uniform_real_distribution<double> jitter(0.8, 1.2);
    auto delay = std::chrono::milliseconds(static_cast<int64_t>(next_.count() * jitter(rng_)));
    next_ = std::min(next_ * 2, max_);
    return delay;
  }
  // After a success (logged in): the next failure starts again from the initial delay.
  void reset() { next_ = initial_; }

 private:
  std::chrono::milliseconds initial_, max_, next_;
  std::mt19937_64 rng_;
};

}  // namespace asyncore

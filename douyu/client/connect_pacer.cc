// connect_pacer.cc — a token bucket in front of connect() (connect_pacer.h).
#include "douyu/client/connect_pacer.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace asyncore::douyu {

ConnectPacer::ConnectPacer(Loop& loop, double per_second)
    : loop_(loop),
      per_second_(per_second),
      burst_(std::max(1.0, per_second / 100)),
      tokens_(burst_),
      refilled_(Clock::now()) {
  if (!(per_second > 0) || !std::isfinite(per_second)) {
    throw std::invalid_argument("ConnectPacer: per_second must be a positive number");
  }
}

ConnectPacer::~ConnectPacer() {
  if (timer_ != 0) loop_.cancel(timer_);
}

void ConnectPacer::acquire(std::function<bool()> go) {
  waiters_.push_back(std::move(go));
  if (!serving_ && timer_ == 0) serve();
}

void ConnectPacer::refill() {
  const Clock::time_point now = Clock::now();
  const double elapsed = std::chrono::duration<double>(now - refilled_).count();
  tokens_ = std::min(burst_, tokens_ + elapsed * per_second_);
  refilled_ = now;
}

void ConnectPacer::serve() {
  serving_ = true;
  refill();
  while (!waiters_.empty() && tokens_ >= 1) {
    std::function<bool()> go = std::move(waiters_.front());
    waiters_.pop_front();
    if (go()) {
      tokens_ -= 1;
      ++granted_;
    }
  }
  serving_ = false;
  if (waiters_.empty()) return;
  // The next whole token, from now.
  const double wait = (1 - tokens_) / per_second_;
  timer_ = loop_.call_later(wait, [this] {
    timer_ = 0;
    serve();
  });
}

}  // namespace asyncore::douyu

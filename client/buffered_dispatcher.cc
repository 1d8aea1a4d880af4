#include "client/buffered_dispatcher.h"

#include <glog/logging.h>

namespace asyncore {

namespace {
// Past this much consumed prefix, compact the buffer once the consumed part is the larger half.
constexpr size_t kCompactThreshold = 64 * 1024;
// An empty buffer whose capacity grew past this gives the memory back.
constexpr size_t kShrinkThreshold = 1024 * 1024;
}  // namespace

bool BufferedDispatcher::send(std::string_view data) {
  if (!is_open()) return false;
  if (data.empty()) return true;
  if (pending() == 0 && connected()) {
    // Fast path: write from the caller's bytes, keep only what the socket refused.
    size_t n = Dispatcher::send(data.data(), data.size());
    if (!is_open()) return false;  // the peer left (handle_close() ran)
    data.remove_prefix(n);
    if (data.empty()) return true;
  }
  if (out_pos_ > kCompactThreshold && out_pos_ >= out_.size() / 2) compact();
  out_.append(data);
  if (pending() > max_pending_) max_pending_ = pending();
  check_high_water();
  return is_open();
}

void BufferedDispatcher::initiate_send() {
  if (pending() == 0 || !connected()) return;
  size_t n = Dispatcher::send(out_.data() + out_pos_, pending());
  out_pos_ += n;
  if (out_pos_ == out_.size()) {
    out_.clear();
    out_pos_ = 0;
    if (out_.capacity() > kShrinkThreshold) out_.shrink_to_fit();
  } else if (out_pos_ > kCompactThreshold && out_pos_ >= out_.size() / 2) {
    compact();
  }
}

void BufferedDispatcher::compact() {
  out_.erase(0, out_pos_);
  out_pos_ = 0;
}

void BufferedDispatcher::set_high_water_mark(size_t bytes, HighWaterCallback callback) {
  high_water_mark_ = bytes;
  on_high_water_ = std::move(callback);
  check_high_water();
}

void BufferedDispatcher::check_high_water() {
  if (high_water_mark_ == 0 || pending() <= high_water_mark_ || !is_open()) return;
  const size_t buffered = pending();
  if (on_high_water_) on_high_water_(buffered);
  LOG(WARNING) << repr() << ": output buffer holds " << buffered
               << " bytes, above the high-water mark of " << high_water_mark_ << " bytes; peer "
               << addr().to_string() << " is not reading: closing the connection";
  out_.clear();
  out_.shrink_to_fit();
  out_pos_ = 0;
  if (is_open()) close();
}

}  // namespace asyncore

// FrameBatch: the bodies of the frames of one socket read, packed back to back into one buffer —
// what the loop thread hands the worker thread (MessageWorker) in one lock.
//
// Why bodies and not decoded Messages: the loop thread only splits frames (and peeks at the few
// types the session needs); STT decoding happens on the worker thread, so the two threads share
// the work. A batch costs two allocations (its buffer and its offsets) however many frames it
// holds, and none once recycled: the worker hands drained batches back, cleared, capacity kept.
// Queued memory is the wire's size, not the decoded size (a body of many tiny fields decodes to
// several times its size; see Message::memory_bytes()).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace asyncore::douyu {

class FrameBatch {
 public:
  void add(std::string_view body) {
    bytes_.append(body);
    ends_.push_back(bytes_.size());
  }
  // Room for `bytes` more body bytes and `frames` more frames, so that filling the batch from one
  // read does not grow (and copy) it step by step.
  void reserve(size_t bytes, size_t frames) {
    bytes_.reserve(bytes_.size() + bytes);
    ends_.reserve(ends_.size() + frames);
  }
  size_t size() const { return ends_.size(); }
  bool empty() const { return ends_.empty(); }
  // The i-th body (STT text without the frame's NUL); valid until the batch is changed.
  std::string_view body(size_t i) const {
    const size_t begin = i == 0 ? 0 : ends_[i - 1];
    return {bytes_.data() + begin, ends_[i] - begin};
  }
  // What the batch holds in memory (capacity, not size): the unit of the receive queue's byte
  // bound.
  size_t memory_bytes() const {
    return sizeof(FrameBatch) + bytes_.capacity() + ends_.capacity() * sizeof(size_t);
  }
  // Empties the batch for reuse; gives the memory back when it grew beyond `keep_bytes` (one
  // maximum-size frame must not pin a megabyte per recycled batch).
  void recycle(size_t keep_bytes) {
    if (memory_bytes() > keep_bytes) {
      // Swapped with fresh ones: moving an empty string in keeps the old buffer (libstdc++).
      std::string().swap(bytes_);
      std::vector<size_t>().swap(ends_);
    } else {
      bytes_.clear();
      ends_.clear();
    }
  }

 private:
  std::string bytes_;         // the bodies, back to back
  std::vector<size_t> ends_;  // end offset of each body in bytes_
};

}  // namespace asyncore::douyu

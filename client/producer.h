// producer.h — Producer and SimpleProducer: asynchat's producer protocol (`more()`) and
// asynchat.simple_producer.
//
// AsyncChat::push_with_producer() queues a Producer; when the producer reaches the front of the
// output queue, AsyncChat calls more() for the next piece of data whenever it can send, so a large
// or generated response need not sit in memory all at once. An empty string from more() means
// "exhausted": the producer is then dropped and the queue moves on.
//
// THREADS: called on the loop thread of the AsyncChat that owns it.
// OWNERSHIP: push_with_producer() takes a std::unique_ptr; the AsyncChat destroys the producer
// once it is exhausted, discarded (discard_buffers()) or when the AsyncChat is destroyed.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <utility>

namespace asyncore {

class Producer {
 public:
  virtual ~Producer() = default;
  // The next piece of data; "" when there is no more.
  virtual std::string more() = 0;
};

// asynchat.simple_producer(data, buffer_size=512): hands out `data` in pieces of `buffer_size`.
class SimpleProducer : public Producer {
 public:
  explicit SimpleProducer(std::string data, size_t buffer_size = 512)
      : data_(std::move(data)), buffer_size_(buffer_size == 0 ? 1 : buffer_size) {}

  std::string more() override {
    size_t n = std::min(buffer_size_, data_.size() - offset_);
    std::string out = data_.substr(offset_, n);
    offset_ += n;
    return out;
  }

 private:
  std::string data_;
  size_t offset_ = 0;  // no O(n^2) front erasing
  size_t buffer_size_;
};

}  // namespace asyncore

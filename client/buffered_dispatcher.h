// buffered_dispatcher.h — BufferedDispatcher: asyncore.dispatcher_with_send in C++.
//
// A Dispatcher with an output buffer. send() never blocks and never loses data: what the socket
// does not take now is kept, in order, and written from handle_write() as the peer reads.
// writable() is true while connecting or while data waits, as in asyncore:
//
//   class Echo : public asyncore::BufferedDispatcher {
//    public:
//     using BufferedDispatcher::BufferedDispatcher;
//     void handle_read() override {
//       char buf[4096];
//       if (ssize_t n = recv(buf, sizeof buf); n > 0) send(buf, static_cast<size_t>(n));
//     }
//   };
//
// Beyond asyncore: a HIGH-WATER MARK on the output buffer. A peer that stops reading would make
// dispatcher_with_send's buffer grow without bound. After set_high_water_mark(bytes, callback),
// the moment a send() leaves more than `bytes` unsent:
//   1. callback(buffered) runs (on the loop thread, inside that send()), then
//   2. the connection is closed: a glog WARNING names the dispatcher, its peer, the buffered byte
//      count and the mark; the buffer is freed; send() returns false from then on.
// So the buffer never holds more than `bytes` + the one send() that crossed the mark. The default
// mark is "none" (asyncore's behaviour). To apply back-pressure instead of closing, stop reading
// your input while pending() is large (e.g. readable() { return pending() < limit; }).
//
// Performance: a send() on an empty buffer writes straight from the caller's bytes and copies only
// what the socket refused; the buffer is drained through an offset and compacted only when the
// consumed part dominates, so draining is O(n), never O(n^2).
//
// THREADS: loop thread only (see Dispatcher). OWNERSHIP: as Dispatcher — create shared-owned ones
// with make_dispatcher<T>() (the loop's map keeps them alive while open), or own one yourself.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "core/dispatcher.h"

namespace asyncore {

class BufferedDispatcher : public Dispatcher {
 public:
  using HighWaterCallback = std::function<void(size_t buffered)>;

  explicit BufferedDispatcher(Loop& loop) : Dispatcher(loop) {}
  BufferedDispatcher(Loop& loop, Socket sock) : Dispatcher(loop, std::move(sock)) {}

  // dispatcher_with_send.send(data): queue `data` and try to write at once. Returns false (and
  // drops the data) only when the dispatcher is closed — including the close caused by the
  // high-water mark. While connecting, data waits for the connection.
  // NOTE: hides Dispatcher::send(); the raw, unbuffered send is Dispatcher::send(...).
  bool send(std::string_view data);
  bool send(const void* data, size_t size) {
    return send(std::string_view(static_cast<const char*>(data), size));
  }

  // Bytes queued and not yet written to the socket (asyncore: len(out_buffer)).
  size_t pending() const { return out_.size() - out_pos_; }

  // See the header comment. `bytes` == 0 turns the mark off.
  void set_high_water_mark(size_t bytes, HighWaterCallback callback = {});
  size_t high_water_mark() const { return high_water_mark_; }

  // The largest pending() ever reached (for tests and statistics).
  size_t max_pending() const { return max_pending_; }

  // asyncore: (not connected) or len(out_buffer).
  bool writable() override { return !connected() || pending() > 0; }
  // asyncore: initiate_send().
  void handle_write() override { initiate_send(); }

 protected:
  // Writes as much of the buffer as the socket takes now.
  void initiate_send();

 private:
  void compact();
  void check_high_water();

  std::string out_;  // unsent bytes are out_[out_pos_, out_.size())
  size_t out_pos_ = 0;
  size_t high_water_mark_ = 0;
  size_t max_pending_ = 0;
  HighWaterCallback on_high_water_;
};

}  // namespace asyncore

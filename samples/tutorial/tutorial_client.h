// tutorial_client.h — the Douyu client of tutorial steps 3 and 4 (docs/tutorial.md), in one
// header so that steps 4 to 8 can grow it the way the seed grows its DouyuClient class:
//
//   * a send queue drained by writable()/handle_write()             (step 3)
//   * handle_read() cuts frames out of the byte stream into a receive queue, and a worker thread
//     drains that queue into an external callback                   (step 4)
//
// Teaching code: short, commented, and correct, but without reconnects, timeouts or statistics.
// The library's real client is asyncore::douyu::DouyuClient (douyu/client/douyu_client.h).
//
// OWNERSHIP: create it with asyncore::make_dispatcher<TutorialClient>(...): while its socket is
// open the loop's map keeps it alive (as Python's socket map did). main() keeps a shared_ptr too,
// so the object outlives the loop and its destructor can stop the worker thread.
//
// THREADS: three kinds of thread touch it, each only through the parts made for it:
//   * the loop thread (main, inside loop.loop()) owns the socket: every handle_*() runs there;
//   * the worker thread runs the callback, and nothing else;
//   * any thread (the worker, step 7's heartbeat) may call send_packet() and call_on_loop().
#pragma once

#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#include "core/dispatcher.h"
#include "douyu/protocol/packet.h"

namespace tutorial {

// The receive queue: frame bodies from the loop thread to the worker thread. Python's
// queue.Queue() is unbounded; this one has a capacity the reader respects (see
// TutorialClient::readable()), so a slow callback cannot make memory grow without limit.
class ReceiveQueue {
 public:
  explicit ReceiveQueue(size_t capacity) : capacity_(capacity) {}

  // Loop thread.
  void push(std::string body) {
    {
      std::lock_guard lock(mutex_);
      bodies_.push_back(std::move(body));
    }
    ready_.notify_one();
  }
  bool full() const {
    std::lock_guard lock(mutex_);
    return bodies_.size() >= capacity_;
  }
  // Any thread: no more pushes; pop() returns what is left, then nullopt.
  void close() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    ready_.notify_all();
  }
  // Worker thread: waits for the next body; nullopt once closed and empty. `was_full` tells the
  // caller that the reader may be paused on this queue and must be woken now that there is room.
  std::optional<std::string> pop(bool& was_full) {
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [this] { return !bodies_.empty() || closed_; });
    if (bodies_.empty()) return std::nullopt;
    was_full = bodies_.size() >= capacity_;
    std::string body = std::move(bodies_.front());
    bodies_.pop_front();
    return body;
  }

 private:
  const size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::string> bodies_;  // guarded by mutex_
  bool closed_ = false;             // guarded by mutex_
};

class TutorialClient : public asyncore::Dispatcher {
 public:
  // The seed's callback(self, dp): the client itself and one frame body (STT text, no NUL).
  using Callback = std::function<void(TutorialClient& client, const std::string& body)>;

  // As the seed's __init__: create the socket, connect, start the worker thread.
  TutorialClient(asyncore::Loop& loop, const std::string& host, uint16_t port, Callback callback,
                 size_t receive_capacity = 1024)
      : Dispatcher(loop), receive_queue_(receive_capacity), callback_(std::move(callback)) {
    create_socket();
    connect(host, port);  // asynchronous: handle_connect() follows from the loop
    worker_ = std::thread([this] { work(); });
  }
  // Python's daemon threads die with the process; a C++ thread must be joined. The worker ends
  // once the queue is closed and empty.
  ~TutorialClient() override {
    receive_queue_.close();
    if (worker_.joinable()) worker_.join();
  }

  // Optional hooks, run on the loop thread.
  std::function<void()> on_connect;
  std::function<void()> on_close;

  // ---- thread-safe ----
  // The seed's self.send_queue.put(dp). The loop thread may be asleep in its wait (it had
  // nothing to write when it last asked writable()), so we wake it: it asks again at once.
  void send_packet(const asyncore::douyu::Packet& packet) {
    {
      std::lock_guard lock(send_mutex_);
      send_queue_.push_back(packet.bytes());
    }
    loop().wake();
  }
  // Runs fn(client) on the loop thread, the only thread that may touch the socket (close(),
  // close_when_sent()). The queued call holds a weak_ptr, not `this`: if the client is gone by
  // the time the loop runs the call, it does nothing.
  void call_on_loop(std::function<void(TutorialClient&)> fn) {
    loop().call_soon_threadsafe([weak = weak_from_this(), fn = std::move(fn)] {
      if (auto self = weak.lock()) fn(static_cast<TutorialClient&>(*self));
    });
  }

  // ---- loop thread ----
  // Step 8's graceful end: once everything queued has been sent, half-close (FIN) and read on
  // until the server closes its side; handle_close() then closes the socket.
  void close_when_sent() { close_when_sent_ = true; }
  // How many times the reader paused because the receive queue was full (back-pressure).
  uint64_t reader_pauses() const { return reader_pauses_; }
  // Why the client closed on an error ("" if it did not).
  const std::string& error() const { return error_; }

  // ---- the asyncore handlers ----
  void handle_connect() override {
    if (on_connect) on_connect();
  }

  bool writable() override {
    if (output_shut_) return false;
    if (!out_.empty() || close_when_sent_) return true;
    std::lock_guard lock(send_mutex_);
    return !send_queue_.empty();
  }

  void handle_write() override {
    if (out_.empty()) {  // take everything queued so far, in order
      std::lock_guard lock(send_mutex_);
      for (auto& bytes : send_queue_) out_ += bytes;
      send_queue_.clear();
    }
    // send() may take only part of it (the kernel's buffer is full): keep the rest for later.
    if (!out_.empty()) out_.erase(0, send(out_));
    if (out_.empty() && close_when_sent_ && !output_shut_) {
      output_shut_ = true;
      shutdown_output();  // FIN after the last byte; we keep reading until the server's EOF
    }
  }

  // Back-pressure: while the worker is behind, stop reading. The unread bytes stay in the
  // kernel, TCP's window closes, and the server slows down; nothing is dropped.
  bool readable() override {
    const bool room = !receive_queue_.full();
    if (!room && !reader_paused_) ++reader_pauses_;
    reader_paused_ = !room;
    return room;
  }

  void handle_read() override {
    char buffer[4096];
    const ssize_t n = recv(buffer, sizeof buffer);
    if (n <= 0) return;  // 0: the server closed (handle_close() already ran); -1: nothing now
    in_.append(buffer, static_cast<size_t>(n));
    // One read can hold many frames, or a part of one: cut out every whole frame and keep the
    // rest for the next read. (The seed's recv(4) + recv(length) assumes whole frames.)
    size_t pos = 0;
    while (in_.size() - pos >= asyncore::douyu::kHeaderSize) {
      const uint32_t length = le32(in_.data() + pos);
      if (length != le32(in_.data() + pos + 4) || length < asyncore::douyu::kMinLength ||
          length > asyncore::douyu::kDefaultMaxLength) {
        throw std::runtime_error("malformed frame header (length " + std::to_string(length) + ")");
      }
      if (in_.size() - pos < length + 4) break;  // the rest of this frame has not arrived yet
      // The body: after the 12 header bytes, without the final NUL.
      receive_queue_.push(in_.substr(pos + asyncore::douyu::kHeaderSize, length - 9));
      pos += length + 4;
    }
    in_.erase(0, pos);
  }

  // asyncore's default handle_close() logs "unhandled close event"; ours just closes.
  void handle_close() override { close(); }

  // An exception escaped a handler (a malformed frame, a failed connect): say what, then close.
  void handle_error() override {
    try {
      throw;  // handle_error() runs inside the catch block: rethrow to see the error
    } catch (const std::exception& e) {
      error_ = e.what();
    }
    std::fprintf(stderr, "error: %s\n", error_.c_str());
    close();
  }

  // close() is virtual, as in Python: every path that ends the connection comes here. The
  // worker delivers what is already queued, then ends.
  void close() override {
    Dispatcher::close();
    receive_queue_.close();
    if (!closed_) {
      closed_ = true;
      if (on_close) on_close();
    }
  }

 private:
  static uint32_t le32(const char* p) {  // a little-endian u32, whatever this CPU's order
    const auto* b = reinterpret_cast<const unsigned char*>(p);
    return b[0] | (b[1] << 8) | (b[2] << 16) | (static_cast<uint32_t>(b[3]) << 24);
  }

  // The worker thread: the only thread that calls the callback, so messages arrive in order.
  void work() {
    bool was_full = false;
    while (auto body = receive_queue_.pop(was_full)) {
      if (was_full) loop().wake();  // the reader may be paused: let the loop ask readable() again
      callback_(*this, *body);
    }
  }

  ReceiveQueue receive_queue_;
  const Callback callback_;

  std::mutex send_mutex_;
  std::deque<std::string> send_queue_;  // guarded by send_mutex_

  // Loop thread only.
  std::string out_;  // bytes taken from the send queue, not yet accepted by the kernel
  std::string in_;   // bytes read, not yet cut into frames
  bool close_when_sent_ = false;
  bool output_shut_ = false;
  bool reader_paused_ = false;
  uint64_t reader_pauses_ = 0;
  bool closed_ = false;
  std::string error_;

  std::thread worker_;  // last: started once every member above exists
};

}  // namespace tutorial

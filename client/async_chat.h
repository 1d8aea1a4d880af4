// async_chat.h — AsyncChat: asynchat.async_chat in C++, for "chat" (command/response) protocols.
//
// Input is split by a TERMINATOR: handle_read() feeds the bytes before it to
// collect_incoming_data() and then calls found_terminator(). The terminator may be
//   * a byte string — set_terminator("\r\n"): the bytes are consumed, not collected; a terminator
//     split across two reads is still found (asynchat's find_prefix_at_end case);
//   * a byte count — set_terminator(n): collects exactly n bytes, counting down across
//     reads (get_terminator().count shows what is left), then calls found_terminator(). Once it
//     fires the count is 0, which means "collect everything" (as in asynchat): found_terminator()
//     must set the next terminator, or every later byte goes to collect_incoming_data() and
//     found_terminator() is not called again;
//   * none — set_terminator(std::nullopt) (or "" or a count of 0): everything is collected and
//     found_terminator() is never called.
// found_terminator() may change the terminator; the rest of the buffered input is then split by
// the new one, as asynchat does. Once collect_incoming_data() or found_terminator() closes the
// dispatcher, the rest of the buffered input is dropped: no further callback runs (asynchat would
// go on splitting it).
//
// Output is a FIFO of byte strings, Producers and a close marker: push(data),
// push_with_producer(producer), close_when_done(). Data is written in order as the socket takes
// it; a producer's more() is asked only when it reaches the front. discard_buffers() drops input
// and output (emergencies only, as asynchat says).
//
//   class Line : public asyncore::AsyncChat {          // an echo-a-line server connection
//    public:
//     Line(asyncore::Loop& loop, asyncore::Socket s) : AsyncChat(loop, std::move(s)) {
//       set_terminator("\n");
//     }
//     void found_terminator() override { push(get_data() + "\n"); }
//   };
//
// Differences from asynchat, each deliberate:
//   * collect_incoming_data() has a default: it appends to an internal buffer that get_data()
//     returns and clears (asynchat's _collect_incoming_data / _get_data), so a line protocol only
//     overrides found_terminator(). found_terminator() stays pure virtual.
//   * push() of a non-bytes value (asynchat: TypeError) does not compile.
//   * set_terminator() with a negative count (asynchat: ValueError) throws std::invalid_argument.
//   * initiate_send() keeps writing while the socket takes everything, instead of one send() per
//     write event; small pushes are coalesced into one buffer (ac_out_buffer_size at most).
//   * Optional high-water mark on queued output bytes, as BufferedDispatcher's: when exceeded by a
//     push(), the callback runs, then the connection is closed with a glog WARNING.
//
// THREADS: loop thread only. OWNERSHIP: as Dispatcher (make_dispatcher<T>() for shared-owned).
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include "client/producer.h"
#include "core/dispatcher.h"

namespace asyncore {

// asynchat.find_prefix_at_end(haystack, needle): the length of the longest proper prefix of
// `needle` that `haystack` ends with (0 if none).
size_t find_prefix_at_end(std::string_view haystack, std::string_view needle);

class AsyncChat : public Dispatcher {
 public:
  // The current terminator (asynchat: bytes, int or None).
  struct Terminator {
    enum class Kind { kNone, kBytes, kCount };
    Kind kind = Kind::kNone;
    std::string bytes;   // kBytes
    uint64_t count = 0;  // kCount: bytes still to collect
    // asynchat's `not terminator`: None, b"" or 0 — collect everything.
    bool collects_all() const {
      return kind == Kind::kNone || (kind == Kind::kBytes && bytes.empty()) ||
             (kind == Kind::kCount && count == 0);
    }
  };
  using HighWaterCallback = std::function<void(size_t buffered)>;

  static constexpr size_t kDefaultInBufferSize = 65536;   // ac_in_buffer_size
  static constexpr size_t kDefaultOutBufferSize = 65536;  // ac_out_buffer_size

  explicit AsyncChat(Loop& loop) : Dispatcher(loop) {}
  AsyncChat(Loop& loop, Socket sock) : Dispatcher(loop, std::move(sock)) {}
  ~AsyncChat() override;

  // ---- terminator ----
  void set_terminator(std::string_view bytes);
  void set_terminator(const char* bytes) { set_terminator(std::string_view(bytes)); }
  void set_terminator(std::nullopt_t);
  // A byte count; throws std::invalid_argument when negative (asynchat: ValueError).
  template <std::integral I>
  requires(!std::same_as<I, char> && !std::same_as<I, bool>) void set_terminator(I count) {
    if constexpr (std::is_signed_v<I>) {
      if (count < 0) throw_negative_terminator(static_cast<int64_t>(count));
    }
    set_terminator_count(static_cast<uint64_t>(count));
  }
  void set_terminator(char) = delete;  // set_terminator('\n') would mean "10 bytes": use "\n"
  const Terminator& get_terminator() const { return terminator_; }

  // ---- input: override these ----
  // Default: appends to the buffer get_data() returns.
  virtual void collect_incoming_data(std::string_view data) { incoming_.append(data); }
  virtual void found_terminator() = 0;
  // asynchat's _get_data(): what the default collect_incoming_data() gathered; clears it.
  std::string get_data();

  // ---- output ----
  // Queues bytes (split into ac_out_buffer_size pieces, as asynchat) and tries to send at once.
  // Returns false (data dropped) when the dispatcher is closed.
  bool push(std::string_view data);
  bool push(std::span<const std::byte> data) {
    return push(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
  }
  bool push(const char* data) { return push(std::string_view(data)); }
  bool push(std::span<const uint8_t> data) {
    return push(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
  }
  template <class T>
  requires std::is_arithmetic_v<T>
  bool push(T) = delete;  // asynchat: TypeError for anything that is not bytes
  // Like push(), both return false (and drop their argument) when the dispatcher is closed.
  bool push_with_producer(std::unique_ptr<Producer> producer);
  // asynchat accepts plain bytes as a "producer" too.
  bool push_with_producer(std::string data);
  // Closes (handle_close()) once everything queued before this call has been sent.
  void close_when_done();
  // Drops buffered input, collected data and queued output.
  void discard_buffers();

  // Bytes of data queued for output (producers' future output is not counted).
  size_t pending() const { return out_bytes_; }
  // Entries in the output queue (data pieces, producers, close marker).
  size_t producer_fifo_size() const { return fifo_.size(); }
  size_t max_pending() const { return max_pending_; }
  void set_high_water_mark(size_t bytes, HighWaterCallback callback = {});

  // ac_in_buffer_size: the most one handle_read() reads. ac_out_buffer_size: the most one entry of
  // the output queue holds.
  size_t ac_in_buffer_size() const { return in_buffer_size_; }
  void set_ac_in_buffer_size(size_t n) { in_buffer_size_ = n == 0 ? 1 : n; }
  size_t ac_out_buffer_size() const { return out_buffer_size_; }
  void set_ac_out_buffer_size(size_t n) { out_buffer_size_ = n == 0 ? 1 : n; }

  // ---- Dispatcher ----
  void handle_read() override;
  void handle_write() override { initiate_send(); }
  // asynchat: close().
  void handle_close() override { close(); }
  bool readable() override { return true; }
  // asynchat: producer_fifo or (not connected).
  bool writable() override { return !fifo_.empty() || !connected(); }

  // asynchat's initiate_send(): writes from the front of the queue while the socket takes it.
  void initiate_send();

 private:
  struct Entry {
    enum class Kind { kData, kProducer, kClose };
    Kind kind;
    std::string data;  // kData: unsent bytes are data[offset, size)
    size_t offset = 0;
    std::unique_ptr<Producer> producer;  // kProducer
  };
  [[noreturn]] static void throw_negative_terminator(int64_t count);
  void set_terminator_count(uint64_t count);
  void process_input();  // the handle_read() loop over the buffered input
  void check_high_water();

  Terminator terminator_;
  std::string incoming_;
  // ac_in_buffer: unprocessed input is in_[in_begin_, in_end_); reads land after in_end_.
  std::unique_ptr<char[]> in_;
  size_t in_capacity_ = 0;
  size_t in_begin_ = 0;
  size_t in_end_ = 0;
  size_t in_buffer_size_ = kDefaultInBufferSize;
  size_t out_buffer_size_ = kDefaultOutBufferSize;

  std::deque<Entry> fifo_;  // producer_fifo
  size_t out_bytes_ = 0;
  size_t max_pending_ = 0;
  size_t high_water_mark_ = 0;
  HighWaterCallback on_high_water_;
};

}  // namespace asyncore

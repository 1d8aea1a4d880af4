// event_stream.h — EventStream: Server-Sent Events to every browser subscribed to one path.
//
// The HTTP server (http_server.h) answers `GET <path>` with `200 text/event-stream` and
// subscribes the connection here; from then on every event published is written to it as
//
//   data: <one line>\n\n            (a payload with line breaks becomes one data: line per line)
//
// after a first `retry: 2000\n\n` (how long EventSource waits before reconnecting), with a
// comment line `: keep-alive\n\n` every keep_alive_interval so that proxies and browsers keep an
// idle stream open. There are no `id:` lines and no replay: a browser that reconnects with
// `Last-Event-ID` gets the stream from now on (the header is accepted and ignored).
//
// BACK-PRESSURE. A browser is never waited for. Each subscriber has a bounded output buffer
// (max_buffered_bytes, default 1 MiB): an event that would take it over the bound drops that
// browser instead, with a WARNING naming it and the bytes it held, and the event still goes to
// every other browser. The socket buffer below takes what it can at each write.
//
// THREADS. publish() and everything else run on the loop thread. Other threads (a room's worker)
// hand events over through publisher(): EventPublisher::post() queues a batch under a mutex and
// wakes the loop once for everything queued until the loop takes it (Loop::call_soon_threadsafe).
// That queue is bounded too (max_pending_bytes, default 8 MiB): when the loop falls behind, the
// oldest batches are dropped and counted (dropped_events()), logged at most once a second. What
// one drain publishes is bounded too, by half of max_buffered_bytes (the newest batches; the older
// ones are dropped and counted the same way): a backlog published in one turn would otherwise
// take every browser, fast ones included, over its bound at once.
// has_subscribers() lets a worker skip formatting events nobody would see.
//
// LIFETIME. Construct and destroy on the loop thread (or while no loop runs); the Loop must
// outlive it. Destroying it closes its subscribers. An EventPublisher may outlive it: post() then
// does nothing.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/loop.h"

namespace asyncore::web {

class EventStream;

// Appends one SSE event carrying `data` to `out`: a `data: ` line per line of it ("\r\n", "\r"
// and "\n" all end a line), then the blank line that ends the event.
void append_event(std::string& out, std::string_view data);

// What the stream writes to: one browser (HttpConnection implements it). Loop thread only.
class EventSubscriber {
 public:
  virtual ~EventSubscriber() = default;
  // Bytes queued for this browser and not yet taken by its socket.
  virtual size_t buffered() const = 0;
  // Queues `bytes` and writes what the socket takes now. May close the subscriber (its peer is
  // gone), which unsubscribes it.
  virtual void write(std::string_view bytes) = 0;
  // The stream has dropped it (over its buffer, or the stream is closing): close now.
  virtual void drop() = 0;
  // For log lines: "browser 127.0.0.1:51234".
  virtual std::string name() const = 0;
};

struct EventStreamOptions {
  size_t max_buffered_bytes = 1024 * 1024;     // per browser; past it the browser is dropped
  double keep_alive_interval = 15;             // seconds between ": keep-alive" comments; 0: none
  unsigned retry_ms = 2000;                    // the first "retry:" line; 0: none
  size_t max_pending_bytes = 8 * 1024 * 1024;  // handed over by other threads, not yet published
};

// The any-thread handle to an EventStream (EventStream::publisher()).
class EventPublisher : public std::enable_shared_from_this<EventPublisher> {
 public:
  // Thread-safe. True while at least one browser is subscribed: events posted while it is false
  // reach nobody, so a worker need not format them.
  bool has_subscribers() const { return subscribers_.load(std::memory_order_relaxed) > 0; }
  // Thread-safe. Queues `framed` (events already framed with append_event(), `events` of them)
  // to be published on the loop thread, in post order. Wakes the loop only when nothing is
  // queued yet. Drops (and counts) the oldest queued batches while more than max_pending_bytes
  // wait. Does nothing once the stream is gone.
  void post(std::string framed, size_t events);

 private:
  friend class EventStream;
  struct Batch {
    std::string bytes;
    size_t events;
  };
  EventPublisher(Loop& loop, size_t max_pending_bytes)
      : loop_(loop), max_pending_bytes_(max_pending_bytes) {}
  void drain();  // loop thread: publishes what is queued

  Loop& loop_;
  const size_t max_pending_bytes_;
  std::atomic<size_t> subscribers_{0};
  std::mutex mutex_;
  std::deque<Batch> pending_;      // guarded by mutex_
  size_t pending_bytes_ = 0;       // guarded by mutex_
  bool drain_queued_ = false;      // guarded by mutex_: a drain() call is on the loop's queue
  bool closed_ = false;            // guarded by mutex_: the stream is gone
  uint64_t dropped_events_ = 0;    // guarded by mutex_
  EventStream* stream_ = nullptr;  // loop thread only; null once the stream is gone
};

class EventStream {
 public:
  explicit EventStream(Loop& loop, EventStreamOptions options = {});
  ~EventStream();  // closes every subscriber; later post()s do nothing
  EventStream(const EventStream&) = delete;
  EventStream& operator=(const EventStream&) = delete;

  // Publishes one event (framed by append_event()) to every subscriber.
  void publish(std::string_view data);
  // Publishes `framed` (`events` events already framed with append_event()) in one write per
  // subscriber.
  void publish_framed(std::string_view framed, size_t events);

  // The handle for other threads.
  std::shared_ptr<EventPublisher> publisher() const { return publisher_; }

  // Called by the server: sends the "retry:" line and adds `s`; remove() takes it out (its
  // close calls it). Neither writes to the socket beyond that line.
  void add(EventSubscriber* s);
  void remove(EventSubscriber* s);
  // Drops every subscriber (each closes).
  void close_all();

  size_t subscribers() const { return subscribers_.size() - holes_; }
  uint64_t published_events() const { return published_events_; }
  uint64_t dropped_subscribers() const { return dropped_subscribers_; }
  // Events dropped because the loop fell behind the threads posting them.
  uint64_t dropped_events() const;
  const EventStreamOptions& options() const { return options_; }

 private:
  friend class EventPublisher;
  void write_all(std::string_view bytes);
  void compact();
  // Loop thread: the once-a-second WARNING (now_or_never: the last one, from the destructor).
  void note_dropped_events(uint64_t total, bool now_or_never = false);

  Loop& loop_;
  const EventStreamOptions options_;
  std::shared_ptr<EventPublisher> publisher_;
  std::vector<EventSubscriber*> subscribers_;  // null slots ("holes") while writing
  size_t holes_ = 0;
  bool writing_ = false;
  TimerId keep_alive_timer_ = 0;
  uint64_t published_events_ = 0;
  uint64_t dropped_subscribers_ = 0;
  uint64_t dropped_events_logged_ = 0;
  std::chrono::steady_clock::time_point last_drop_log_{};
};

}  // namespace asyncore::web

// redis_stream_sink.h — RedisStreamSink: writes every delivered room message into a Redis Stream
// (XADD), so that other machines read them with consumer groups (docs/REDIS.md).
//
// ONE WRITER, EXPLICIT IDS: add() gives each message its entry id when it queues it, monotonic per
// stream: "<ms>-<seq>", ms = max(now in ms since the epoch, the stream's last ms), seq = 0 for a
// new ms, else last seq + 1 (stream_id.h). The id travels with the message through every retry,
// which is what makes a retry idempotent: Redis refuses an id that is not above the stream's top
// with "ERR The ID specified in XADD is equal or smaller than the target stream top item".
//   - A RETRY (the message was in flight when a connection broke: Redis may or may not have
//     applied it) that gets this answer was applied before: it counts as written (duplicates()),
//     never as an error and never written twice.
//   - A FIRST attempt that gets it means the stream already holds newer ids (the clock went back
//     across a restart, or another writer): WARNING, XINFO STREAM reads the stream's
//     last-generated-id, the stream's unwritten messages get new ids above it (in order) and are
//     sent again. Nothing is dropped. That stream sends nothing else meanwhile.
// ORDER: writes of one stream leave in add() order; after a reconnect everything unacknowledged is
// sent again in that order (per stream: by id, which is add() order). One exception, documented
// not fixed: when a write fails (transient error, or the "first attempt" case above) while later
// writes of the same stream were already pipelined behind it and succeed, the failed one is
// written after them (with a new id) — late, never lost, never doubled.
//
// BACK-PRESSURE: while Redis is connected but behind (half of buffer_limit or more waiting), add()
// on any thread but the loop's waits until Redis has taken some, so a healthy Redis slower than
// the rooms slows the rooms down (their receive queues fill, their reading pauses) instead of
// losing messages. It never waits while Redis is unreachable (the buffer below takes the
// messages), after flush(), after stop_waiting() (call it when the program starts to shut down,
// so every producer can finish), or on the loop thread (which drives the writes). Each wait is
// re-checked every 100 ms at the latest.
//
// BUFFER: messages wait (added, not acknowledged) up to options.buffer_limit; past it the OLDEST
// not yet sent are dropped, counted (dropped()) and logged loudly (ERROR, at most once a second,
// with the running count). A message with no field (XADD needs one) is refused and counted
// (rejected()). Redis refusing an entry for good (e.g. WRONGTYPE: the key is not a stream) drops
// that entry, counted in dropped() with an ERROR. max_in_flight bounds the XADDs sent and not yet
// answered, so hiredis' output buffer is bounded too.
//
// CONNECTION: hiredis' async API on the Loop's event_base (redisLibeventAttach), pipelined. On
// connect: AUTH (when a password is set), SELECT (db != 0), PING; XADD only after PING answered.
// LOADING/BUSY/... (Redis restarting) and every network error are retried with backoff + jitter
// (core/backoff.h); each failure is logged once when its reason changes (WARNING, naming
// target.redacted(), never the password), a success after failures at INFO. A refused AUTH or
// SELECT, or a server that wants a password we do not have, is FATAL: failure() says why
// ("redis 127.0.0.1:6380: AUTH failed: WRONGPASS ..."), logged as ERROR, no more attempts; the
// messages stay buffered (bounded) and flush() reports false. hiredis 0.14 has no async connect
// timeout: the sink arms its own (connect_timeout, covering the lookup and AUTH/SELECT/PING too).
// A host name is looked up without blocking (evdns on the Loop, as Dispatcher::connect() does:
// /etc/hosts, then /etc/resolv.conf's nameservers or Loop::set_dns_nameservers()), again on every
// attempt; its addresses are tried in the order answered, the next at once when one does not
// connect (all within connect_timeout). A name that does not resolve is retried like a refused
// connection, never fatal (DNS may come back).
//
// THREADS: add() and the statistics are thread-safe; everything else is loop-only. add() appends
// to a mutex-guarded queue and wakes the loop with call_soon_threadsafe() only when no drain is
// already scheduled (a flood of adds costs one queued call per loop turn, not one per message). A
// queued drain that runs after the sink is destroyed does nothing (liveness token).
//
// LOOP LIFETIME (for the CLI): hiredis' libevent events are NOT in the Loop's map, so they never
// keep Loop::loop() running: with an empty map, no timer and no hold, loop() returns even while
// the sink is connecting or writing. What does keep it running: the sink's Loop timers (backoff,
// connect timeout), a host name's lookup in flight (a hold, until libevent lets go of it) and
// flush(). So at shutdown: call flush(timeout, done) — it hold()s the loop
// until done runs, so a loop() running (or started after it) goes on until every message is
// acknowledged or the timeout passes; then the sink is finished: its connection closed, timers
// cancelled, hold released, nothing of it keeps loop() from returning; later add()s are counted
// as dropped. Destroy the sink in done (it is the last thing the sink does) or after loop()
// returns, on the loop thread, before the Loop. Destroying it earlier closes the connection at
// once and cancels everything (an unfinished flush's done is then never called).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "douyu/protocol/message.h"
#include "redis/redis_target.h"

namespace asyncore {
class Loop;
}

namespace asyncore::redis {

struct RedisSinkOptions {
  RedisTarget target;
  std::string stream_template = "douyu:{rid}";  // {rid} = the room id; every occurrence replaced
  uint64_t maxlen = 0;                          // > 0: XADD key MAXLEN ~ maxlen id ...
  size_t buffer_limit = 300'000;  // messages waiting (unacknowledged) before the oldest are dropped
  size_t max_in_flight = 4096;    // XADDs sent and not yet answered
  std::chrono::milliseconds backoff_initial{200}, backoff_max{5'000};  // reconnect, with jitter
  std::chrono::milliseconds connect_timeout{5'000};
};

class RedisStreamSink {
 public:
  RedisStreamSink(Loop& loop, RedisSinkOptions options);  // loop thread
  ~RedisStreamSink();                                     // loop thread; disconnects at once
  RedisStreamSink(const RedisStreamSink&) = delete;
  RedisStreamSink& operator=(const RedisStreamSink&) = delete;

  // Loop thread: connect (AUTH, SELECT), then write. Once.
  void start();
  // Thread-safe: copies the message's (key, value) fields in order (nested values as the STT text
  // Message gives; duplicate keys kept: XADD stores repeated field names as given). For one room,
  // calls come from one thread, in order.
  void add(std::string_view room_id, const asyncore::douyu::Message& m);
  // Thread-safe: from now on add() never waits for Redis (see BACK-PRESSURE). Idempotent.
  void stop_waiting();
  // Loop thread: no more add() expected; writes what is buffered and calls done(true) once
  // everything was acknowledged by Redis, or done(false) when `timeout` passes first (or at once
  // after a fatal failure); what is left is counted and logged. See LOOP LIFETIME above.
  void flush(std::chrono::milliseconds timeout, std::function<void(bool all_written)> done);

  // Thread-safe statistics.
  uint64_t written() const;     // entries acknowledged (including retries found already present)
  uint64_t duplicates() const;  // of written(): retries Redis already had
  uint64_t backlog() const;     // added and not yet acknowledged (nor dropped)
  uint64_t dropped() const;     // oldest dropped at the buffer bound, or refused by Redis for good
  uint64_t rejected() const;    // messages with no field, not written
  uint64_t reconnects() const;  // connection attempts after the first
  bool connected() const;       // handshake done, XADDs may flow
  std::string failure() const;  // non-empty: fatal, no more attempts (never holds the password)

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace asyncore::redis

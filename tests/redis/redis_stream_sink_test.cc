// RedisStreamSink against a real redis-server: what lands in the streams.
#include "redis/redis_stream_sink.h"

#include <gtest/gtest.h>

#include <memory>
#include <thread>
#include <vector>

#include "sink_test_util.h"

namespace asyncore::redis::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Flushes and runs loop() as the CLI does: loop() must return once done() ran (the sink keeps
// nothing armed). The watchdog turns a hang into a failure.
bool flush_and_loop(Loop& loop, RedisStreamSink& sink, milliseconds timeout, bool* result) {
  bool called = false;
  sink.flush(timeout, [&](bool ok) {
    called = true;
    *result = ok;
  });
  Watchdog watchdog(loop, timeout + seconds(10));
  loop.loop(0.05);
  EXPECT_FALSE(watchdog.fired()) << "loop() did not return after flush()";
  EXPECT_EQ(loop.timer_count(), 0u);
  return called;
}

TEST(RedisStreamSinkTest, HundredRoomsEveryMessageOnceInOrderFieldsEqual) {
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.error();
  Loop loop;
  RedisStreamSink sink(loop, options_for(server));
  sink.start();
  constexpr int kRooms = 100, kPerRoom = 60;
  for (int n = 0; n < kPerRoom; ++n) {
    for (int room = 0; room < kRooms; ++room) sink.add(std::to_string(room), chat(room, n));
  }
  // Duplicate keys (STT allows them; XADD keeps repeated field names), an escaped value, a
  // nested list and a bare item (empty key), in a room of their own.
  const douyu::Message odd(
      "type@=chatmsg/rid@=1/rid@=2/txt@=a@Sb@Ac/list@=x@AS@=y@AS/@=bare/empty@=/");
  ASSERT_EQ(odd.get_all("rid").size(), 2u);
  sink.add("odd", odd);
  bool ok = false;
  ASSERT_TRUE(flush_and_loop(loop, sink, seconds(20), &ok));
  EXPECT_TRUE(ok);
  EXPECT_EQ(sink.written(), kRooms * kPerRoom + 1u);
  EXPECT_EQ(sink.backlog(), 0u);
  EXPECT_EQ(sink.dropped(), 0u);
  EXPECT_EQ(sink.duplicates(), 0u);
  EXPECT_EQ(check_rooms(server, kRooms, 0, kPerRoom), "");
  const auto odd_entries = read_stream(server, "douyu:odd");
  ASSERT_EQ(odd_entries.size(), 1u);
  EXPECT_EQ(odd_entries[0].fields, fields_of(odd));
  EXPECT_EQ(odd_entries[0].fields[2], (std::pair<std::string, std::string>("rid", "2")));
  EXPECT_EQ(odd_entries[0].fields[3].second, "a/b@c");
}

TEST(RedisStreamSinkTest, TemplateAndMaxlenTrimApproximately) {
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.error();
  Loop loop;
  RedisSinkOptions options = options_for(server);
  options.stream_template = "x:{rid}:{rid}";
  options.maxlen = 100;
  RedisStreamSink sink(loop, options);
  sink.start();
  constexpr int kCount = 3000;
  for (int n = 0; n < kCount; ++n) sink.add("7", chat(7, n));
  bool ok = false;
  ASSERT_TRUE(flush_and_loop(loop, sink, seconds(20), &ok));
  EXPECT_TRUE(ok);
  EXPECT_EQ(sink.written(), static_cast<uint64_t>(kCount));
  // "~": Redis trims whole nodes (100 entries by default), so at least maxlen stay, and far fewer
  // than written.
  const long long len = stream_length(server, "x:7:7");
  EXPECT_GE(len, 100);
  EXPECT_LE(len, 400);
  const auto entries = read_stream(server, "x:7:7");
  ASSERT_FALSE(entries.empty());
  EXPECT_EQ(entries.back().fields, fields_of(chat(7, kCount - 1)));
}

TEST(RedisStreamSinkTest, AddFromManyThreads) {
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.error();
  Loop loop;
  RedisSinkOptions options = options_for(server);
  options.max_in_flight = 64;  // many turns, many drains while the producers run
  RedisStreamSink sink(loop, options);
  sink.start();
  constexpr int kThreads = 4, kRoomsPerThread = 10, kPerRoom = 150;
  std::atomic<int> finished{0};
  std::vector<std::thread> producers;
  for (int t = 0; t < kThreads; ++t) {
    producers.emplace_back([&, t] {
      for (int n = 0; n < kPerRoom; ++n) {
        for (int r = 0; r < kRoomsPerThread; ++r) {
          const int room = t * kRoomsPerThread + r;
          sink.add(std::to_string(room), chat(room, n));
        }
      }
      finished.fetch_add(1);
    });
  }
  // The loop runs while they add: drains race with add().
  EXPECT_TRUE(run_until(loop, [&] { return finished.load() == kThreads; }));
  for (auto& p : producers) p.join();
  bool ok = false;
  ASSERT_TRUE(flush_and_loop(loop, sink, seconds(20), &ok));
  EXPECT_TRUE(ok);
  EXPECT_EQ(sink.written(), static_cast<uint64_t>(kThreads * kRoomsPerThread * kPerRoom));
  EXPECT_EQ(check_rooms(server, kThreads * kRoomsPerThread, 0, kPerRoom), "");
}

TEST(RedisStreamSinkTest, StreamAheadOfTheClockIsRebasedNotDropped) {
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.error();
  // Another writer (or a clock that went back): the stream's top is an hour ahead.
  const auto ahead =
      std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch() +
                                               std::chrono::hours(1))
          .count();
  const std::string top = std::to_string(ahead) + "-5";
  auto r = server.command({"XADD", "douyu:3", top, "other", "writer"});
  ASSERT_TRUE(r && r->type == REDIS_REPLY_STRING);
  Loop loop;
  RedisStreamSink sink(loop, options_for(server));
  sink.start();
  constexpr int kCount = 200;
  for (int n = 0; n < kCount; ++n) sink.add("3", chat(3, n));
  bool ok = false;
  ASSERT_TRUE(flush_and_loop(loop, sink, seconds(20), &ok));
  EXPECT_TRUE(ok);
  EXPECT_EQ(sink.written(), static_cast<uint64_t>(kCount));
  EXPECT_EQ(sink.duplicates(), 0u);
  const auto entries = read_stream(server, "douyu:3");
  ASSERT_EQ(entries.size(), kCount + 1u);
  EXPECT_EQ(entries[0].id, top);
  for (int n = 0; n < kCount; ++n) EXPECT_EQ(entries[n + 1].fields, fields_of(chat(3, n))) << n;
}

TEST(RedisStreamSinkTest, RightPasswordAndDatabase) {
  RedisServer server("s3cret-pw");
  ASSERT_TRUE(server.start()) << server.error();
  Loop loop;
  RedisSinkOptions options = options_for(server);
  options.target.db = 3;
  RedisStreamSink sink(loop, options);
  sink.start();
  for (int n = 0; n < 50; ++n) sink.add("1", chat(1, n));
  bool ok = false;
  ASSERT_TRUE(flush_and_loop(loop, sink, seconds(20), &ok));
  EXPECT_TRUE(ok);
  EXPECT_EQ(sink.failure(), "");
  EXPECT_EQ(stream_length(server, "douyu:1"), 0) << "db 0 holds nothing: SELECT 3 came first";
  auto c = server.connect();
  ASSERT_TRUE(c);
  RedisReplyPtr(static_cast<redisReply*>(redisCommand(c.get(), "SELECT 3")));
  RedisReplyPtr len(static_cast<redisReply*>(redisCommand(c.get(), "XLEN douyu:1")));
  ASSERT_TRUE(len);
  EXPECT_EQ(len->integer, 50);
}

}  // namespace
}  // namespace asyncore::redis::testing

namespace asyncore::redis::testing {
namespace {

// A connected Redis slower than the producer: add() waits for it (back-pressure) instead of
// dropping, and the backlog never passes the buffer's bound.
TEST(RedisStreamSinkTest, AConnectedRedisBehindSlowsTheProducerDownNothingDropped) {
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.error();
  Loop loop;
  RedisSinkOptions options = options_for(server);
  options.buffer_limit = 100;  // add() waits from 50 waiting
  options.max_in_flight = 16;
  RedisStreamSink sink(loop, options);
  sink.start();
  ASSERT_TRUE(run_until(loop, [&] { return sink.connected(); }));
  constexpr int kRooms = 4, kPerRoom = 1500;
  std::atomic<bool> done{false};
  std::atomic<uint64_t> max_backlog{0};
  std::thread producer([&] {
    for (int n = 0; n < kPerRoom; ++n) {
      for (int r = 0; r < kRooms; ++r) {
        sink.add(std::to_string(r), chat(r, n));
        max_backlog.store(std::max(max_backlog.load(), sink.backlog()));
      }
    }
    done.store(true);
  });
  EXPECT_TRUE(run_until(
      loop, [&] { return done.load(); }, seconds(60)));
  producer.join();
  bool ok = false;
  ASSERT_TRUE(flush_and_loop(loop, sink, seconds(20), &ok));
  EXPECT_TRUE(ok);
  EXPECT_EQ(sink.dropped(), 0u);
  EXPECT_LE(max_backlog.load(), 100u);
  EXPECT_EQ(sink.written(), static_cast<uint64_t>(kRooms * kPerRoom));
  EXPECT_EQ(check_rooms(server, kRooms, 0, kPerRoom), "");
}

// stop_waiting() releases a producer that waits for Redis (here: the loop is not run, so Redis
// never catches up); from then on add() takes everything, the bound drops the oldest.
TEST(RedisStreamSinkTest, StopWaitingReleasesAWaitingProducer) {
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.error();
  Loop loop;
  RedisSinkOptions options = options_for(server);
  options.buffer_limit = 100;
  RedisStreamSink sink(loop, options);
  sink.start();
  ASSERT_TRUE(run_until(loop, [&] { return sink.connected(); }));
  std::atomic<int> added{0};
  std::thread producer([&] {
    for (int n = 0; n < 200; ++n) {
      sink.add("1", chat(1, n));
      added.fetch_add(1);
    }
  });
  // It stops at half the bound: 50 added, the 51st waits (nobody drives the writes).
  const auto until = std::chrono::steady_clock::now() + seconds(10);
  while (added.load() < 50 && std::chrono::steady_clock::now() < until) std::this_thread::yield();
  ASSERT_EQ(added.load(), 50);
  EXPECT_EQ(sink.backlog(), 50u);
  sink.stop_waiting();
  producer.join();  // returns: nothing waits any more
  EXPECT_EQ(added.load(), 200);
  EXPECT_EQ(sink.dropped(), 100u);  // 200 waiting against a bound of 100: the oldest 100
  EXPECT_EQ(sink.backlog(), 100u);
}

}  // namespace
}  // namespace asyncore::redis::testing

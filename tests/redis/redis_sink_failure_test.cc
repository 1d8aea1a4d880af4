// RedisStreamSink when Redis fails: restarts, outages, refused AUTH, destruction mid-write.
#include <glog/logging.h>
#include <gtest/gtest.h>

#include <memory>
#include <thread>

#include "redis/redis_stream_sink.h"
#include "sink_test_util.h"

namespace asyncore::redis::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

bool flush_until_done(Loop& loop, RedisStreamSink& sink, milliseconds timeout, bool* ok) {
  bool called = false;
  sink.flush(timeout, [&](bool all) {
    called = true;
    *ok = all;
  });
  return run_until(
      loop, [&] { return called; }, timeout + seconds(10));
}

// Redis goes away while writes are in flight and comes back from its AOF: every message is in
// its stream exactly once, in order (retries found present count as written, not again).
void restart_mid_stream(bool hard_kill) {
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.error();
  Loop loop;
  RedisStreamSink sink(loop, options_for(server));
  sink.start();
  constexpr int kRooms = 100, kHalf = 40;
  for (int n = 0; n < kHalf; ++n) {
    for (int room = 0; room < kRooms; ++room) sink.add(std::to_string(room), chat(room, n));
  }
  ASSERT_TRUE(run_until(loop, [&] { return sink.written() >= 500; }));
  EXPECT_LT(sink.written(), static_cast<uint64_t>(kRooms * kHalf)) << "not mid-stream";
  if (hard_kill) {
    server.kill();
  } else {
    ASSERT_TRUE(server.shutdown()) << server.error();
  }
  for (int n = kHalf; n < 2 * kHalf; ++n) {
    for (int room = 0; room < kRooms; ++room) sink.add(std::to_string(room), chat(room, n));
  }
  ASSERT_TRUE(run_until(loop, [&] { return !sink.connected() && sink.reconnects() >= 1; }));
  ASSERT_TRUE(server.restart()) << server.error();
  bool ok = false;
  ASSERT_TRUE(flush_until_done(loop, sink, seconds(20), &ok));
  EXPECT_TRUE(ok);
  EXPECT_EQ(sink.written(), static_cast<uint64_t>(kRooms * 2 * kHalf));
  EXPECT_EQ(sink.dropped(), 0u);
  EXPECT_EQ(check_rooms(server, kRooms, 0, 2 * kHalf), "");
  LOG(INFO) << "duplicates (retries already applied): " << sink.duplicates()
            << ", reconnects: " << sink.reconnects();
}

TEST(RedisSinkFailureTest, ShutdownAndRestartMidStreamExactlyOnceInOrder) {
  restart_mid_stream(false);
}

TEST(RedisSinkFailureTest, KilledAndRestartedMidStreamExactlyOnceInOrder) {
  restart_mid_stream(true);
}

TEST(RedisSinkFailureTest, UnreachableDropsOldestCountedNewestWrittenLater) {
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.error();
  ASSERT_TRUE(server.shutdown()) << server.error();  // a port with nobody behind it
  Loop loop;
  RedisSinkOptions options = options_for(server);
  options.buffer_limit = 100;
  RedisStreamSink sink(loop, options);
  sink.start();
  for (int n = 0; n < 1000; ++n) sink.add("5", chat(5, n));
  EXPECT_EQ(sink.dropped(), 900u);
  EXPECT_EQ(sink.backlog(), 100u);
  ASSERT_TRUE(run_until(loop, [&] { return sink.reconnects() >= 2; }));  // refused, retried
  EXPECT_FALSE(sink.connected());
  EXPECT_EQ(sink.failure(), "") << "refused connections are not fatal";
  ASSERT_TRUE(server.restart()) << server.error();
  bool ok = false;
  ASSERT_TRUE(flush_until_done(loop, sink, seconds(20), &ok));
  EXPECT_TRUE(ok);
  EXPECT_EQ(sink.written(), 100u);
  const auto entries = read_stream(server, "douyu:5");
  ASSERT_EQ(entries.size(), 100u);
  for (int n = 900; n < 1000; ++n) EXPECT_EQ(entries[n - 900].fields, fields_of(chat(5, n)));
}

TEST(RedisSinkFailureTest, FlushTimesOutWhenRedisNeverComesBack) {
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.error();
  ASSERT_TRUE(server.shutdown()) << server.error();
  Loop loop;
  RedisStreamSink sink(loop, options_for(server));
  sink.start();
  for (int n = 0; n < 10; ++n) sink.add("5", chat(5, n));
  bool called = false, ok = true;
  const auto begin = std::chrono::steady_clock::now();
  sink.flush(milliseconds(300), [&](bool all) {
    called = true;
    ok = all;
  });
  // loop() itself must return: the sink's backoff timer and hold are gone after done(false).
  Watchdog watchdog(loop, seconds(10));
  loop.loop(0.05);
  const auto elapsed = std::chrono::steady_clock::now() - begin;
  EXPECT_FALSE(watchdog.fired());
  ASSERT_TRUE(called);
  EXPECT_FALSE(ok);
  EXPECT_GE(elapsed, milliseconds(290));
  EXPECT_LT(elapsed, seconds(3));
  EXPECT_EQ(sink.backlog(), 10u);
  EXPECT_EQ(loop.timer_count(), 0u);
  sink.add("5", chat(5, 10));  // after flush: counted, not kept
  EXPECT_EQ(sink.dropped(), 1u);
  EXPECT_EQ(sink.backlog(), 10u);
}

TEST(RedisSinkFailureTest, WrongPasswordIsFatalNamesServerNotPassword) {
  RedisServer server("the-right-one");
  ASSERT_TRUE(server.start()) << server.error();
  Loop loop;
  RedisSinkOptions options = options_for(server);
  options.target.password = "wrong-pass-123";
  RedisStreamSink sink(loop, options);
  sink.start();
  sink.add("1", chat(1, 0));
  ASSERT_TRUE(run_until(loop, [&] { return !sink.failure().empty(); }));
  const std::string failure = sink.failure();
  EXPECT_NE(failure.find(server.host_port()), std::string::npos) << failure;
  EXPECT_NE(failure.find("AUTH failed"), std::string::npos) << failure;
  EXPECT_EQ(failure.find("wrong-pass-123"), std::string::npos) << failure;
  EXPECT_EQ(failure.find("the-right-one"), std::string::npos) << failure;
  EXPECT_EQ(sink.reconnects(), 0u) << "no retry storm";
  EXPECT_EQ(loop.timer_count(), 0u);
  bool called = false, ok = true;
  sink.flush(seconds(10), [&](bool all) {
    called = true;
    ok = all;
  });
  EXPECT_TRUE(called) << "a fatal failure ends flush() at once";
  EXPECT_FALSE(ok);
  EXPECT_EQ(stream_length(server, "douyu:1"), 0);
}

TEST(RedisSinkFailureTest, MissingPasswordIsFatal) {
  RedisServer server("needed");
  ASSERT_TRUE(server.start()) << server.error();
  Loop loop;
  RedisSinkOptions options = options_for(server);
  options.target.password.clear();
  RedisStreamSink sink(loop, options);
  sink.start();
  ASSERT_TRUE(run_until(loop, [&] { return !sink.failure().empty(); }));
  EXPECT_NE(sink.failure().find("password"), std::string::npos) << sink.failure();
  EXPECT_EQ(sink.reconnects(), 0u);
}

TEST(RedisSinkFailureTest, DestroyedWhileWritesInFlight) {
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.error();
  Loop loop;
  auto sink = std::make_unique<RedisStreamSink>(loop, options_for(server));
  sink->start();
  constexpr int kCount = 20000;
  for (int n = 0; n < kCount; ++n) sink->add("9", chat(9, n));
  ASSERT_TRUE(run_until(loop, [&] { return sink->written() > 0; }));
  EXPECT_LT(sink->written(), static_cast<uint64_t>(kCount)) << "nothing left in flight";
  // A drain queued from another thread just before destruction must find the sink gone.
  std::thread producer([&] { sink->add("9", chat(9, kCount)); });
  producer.join();
  sink.reset();
  EXPECT_TRUE(run_until(loop, [&] { return loop.turns() > 20; }));  // queued calls run, no-ops
  EXPECT_EQ(loop.timer_count(), 0u);
  const auto entries = read_stream(server, "douyu:9");
  ASSERT_LE(entries.size(), static_cast<size_t>(kCount));
  for (size_t i = 0; i < entries.size(); ++i) {
    ASSERT_EQ(entries[i].fields, fields_of(chat(9, static_cast<int>(i)))) << "in order, once";
  }
}

}  // namespace
}  // namespace asyncore::redis::testing

// RedisStreamSink with a host name: looked up with evdns on the Loop (never a blocking
// getaddrinfo() on the loop thread), against DNS servers on loopback that hold, answer or refuse.
#include <gtest/gtest.h>

#include <memory>

#include "redis/redis_stream_sink.h"
#include "sink_test_util.h"
#include "tests/core/held_dns_responder.h"
#include "tests/core/nxdomain_responder.h"

namespace asyncore::redis::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// A target named, not numbered: only the Loop's nameserver (on loopback) knows it.
RedisSinkOptions named_target(const RedisServer& server, Loop& loop, const std::string& dns) {
  loop.set_dns_nameservers({dns});
  RedisSinkOptions o = options_for(server);
  o.target.host = "redis.sink.test";
  return o;
}

// While the lookup waits, the loop goes on turning (a timer keeps firing); once the name is
// answered, the sink connects to that address and writes everything, in order.
TEST(RedisSinkDns, TheLoopTurnsWhileTheNameIsLookedUpThenEverythingIsWritten) {
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.error();
  Loop loop;
  test::HeldDnsResponder dns(loop);
  RedisStreamSink sink(loop, named_target(server, loop, dns.nameserver()));
  sink.start();
  for (int n = 0; n < 50; ++n) sink.add("7", chat(7, n));
  int ticks = 0;
  const TimerId ticker = loop.call_every(0.005, [&] { ++ticks; });
  ASSERT_TRUE(run_until(
      loop, [&] { return dns.queries >= 1 && ticks >= 40; }, seconds(10)))
      << "queries " << dns.queries << ", ticks " << ticks;
  EXPECT_FALSE(sink.connected());
  EXPECT_EQ(sink.written(), 0u);
  dns.release();
  ASSERT_TRUE(run_until(loop, [&] { return sink.written() == 50; }))
      << "written " << sink.written() << ", reconnects " << sink.reconnects();
  EXPECT_TRUE(sink.connected());
  const auto entries = read_stream(server, "douyu:7");
  ASSERT_EQ(entries.size(), 50u);
  for (int n = 0; n < 50; ++n) EXPECT_EQ(entries[n].fields, fields_of(chat(7, n))) << n;
  loop.cancel(ticker);
}

// A name with two addresses, the first with nothing listening (Redis is bound to 127.0.0.1
// only): the second is tried at once, in the same attempt, and everything is written.
TEST(RedisSinkDns, WhenTheFirstAddressRefusesTheNextOneIsTriedInTheSameAttempt) {
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.error();
  Loop loop;
  test::HeldDnsResponder dns(loop, {{127, 0, 0, 2}, {127, 0, 0, 1}});
  dns.release();
  RedisStreamSink sink(loop, named_target(server, loop, dns.nameserver()));
  sink.start();
  for (int n = 0; n < 20; ++n) sink.add("8", chat(8, n));
  ASSERT_TRUE(run_until(loop, [&] { return sink.written() == 20; }))
      << "written " << sink.written() << ", reconnects " << sink.reconnects();
  EXPECT_EQ(sink.reconnects(), 0u) << "the refused address cost a whole attempt";
  EXPECT_EQ(stream_length(server, "douyu:8"), 20);
}

// A name that does not exist: every attempt looks it up again (after the backoff), nothing is
// connected or lost, and the messages wait in the buffer.
TEST(RedisSinkDns, ANameThatDoesNotResolveIsRetriedWithBackoffAndLosesNothing) {
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.error();
  Loop loop;
  test::NxdomainResponder dns(loop);
  RedisStreamSink sink(loop, named_target(server, loop, dns.nameserver()));
  sink.start();
  for (int n = 0; n < 10; ++n) sink.add("3", chat(3, n));
  ASSERT_TRUE(run_until(loop, [&] { return sink.reconnects() >= 3 && dns.queries >= 3; }))
      << "reconnects " << sink.reconnects() << ", queries " << dns.queries;
  EXPECT_FALSE(sink.connected());
  EXPECT_EQ(sink.written(), 0u);
  EXPECT_EQ(sink.dropped(), 0u);
  EXPECT_EQ(sink.backlog(), 10u);
  EXPECT_EQ(sink.failure(), "") << "a name that does not resolve (yet) is not fatal";
}

// A lookup never answered: the connect timeout ends it (and the attempt), and the next attempt
// looks the name up again.
TEST(RedisSinkDns, ALookupNeverAnsweredEndsAtTheConnectTimeoutAndIsTriedAgain) {
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.error();
  Loop loop;
  test::NxdomainResponder dns(loop, /*silent=*/true);
  RedisSinkOptions o = named_target(server, loop, dns.nameserver());
  o.connect_timeout = milliseconds(200);
  RedisStreamSink sink(loop, o);
  sink.start();
  sink.add("1", chat(1, 0));
  ASSERT_TRUE(run_until(
      loop, [&] { return sink.reconnects() >= 2; }, seconds(10)))
      << "reconnects " << sink.reconnects() << ", queries " << dns.queries;
  EXPECT_GE(dns.queries, 2);
  EXPECT_FALSE(sink.connected());
  EXPECT_EQ(sink.backlog(), 1u);
}

// The sink destroyed while its lookup waits: the lookup is cancelled (libevent reports it on a
// later turn, to nobody), and an answer arriving afterwards reaches nothing (ASan: no use after
// free, no leak).
TEST(RedisSinkDns, DestroyedWhileTheLookupWaitsTheLateAnswerReachesNothing) {
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.error();
  Loop loop;
  test::HeldDnsResponder dns(loop);
  auto sink = std::make_unique<RedisStreamSink>(loop, named_target(server, loop, dns.nameserver()));
  sink->start();
  sink->add("2", chat(2, 0));
  ASSERT_TRUE(run_until(
      loop, [&] { return dns.queries >= 1; }, seconds(10)));
  sink.reset();
  dns.release();
  int turns = 0;
  ASSERT_TRUE(run_until(loop, [&] { return ++turns >= 20; }));
  EXPECT_EQ(stream_length(server, "douyu:2"), 0);
}

// flush() while the lookup waits: it ends at its timeout with false, the lookup cancelled, and
// loop() returns once nothing else keeps it (the lookup's hold is released).
TEST(RedisSinkDns, FlushWhileTheLookupWaitsEndsAtItsTimeoutAndLetsTheLoopReturn) {
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.error();
  Loop loop;
  test::HeldDnsResponder dns(loop);
  RedisStreamSink sink(loop, named_target(server, loop, dns.nameserver()));
  sink.start();
  sink.add("4", chat(4, 0));
  ASSERT_TRUE(run_until(
      loop, [&] { return dns.queries >= 1; }, seconds(10)));
  bool called = false, all = true;
  sink.flush(milliseconds(300), [&](bool ok) {
    called = true;
    all = ok;
    dns.close();  // the last thing in the map: loop() may return now
  });
  Watchdog watchdog(loop, seconds(20));
  loop.loop();
  EXPECT_FALSE(watchdog.fired()) << "loop() did not return: something still holds it";
  EXPECT_TRUE(called);
  EXPECT_FALSE(all);
  EXPECT_EQ(sink.backlog(), 1u);
}

}  // namespace
}  // namespace asyncore::redis::testing

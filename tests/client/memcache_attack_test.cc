// memcache_attack_test.cc — attacks MemcacheClient (samples/memcache/memcache_client.h) and
// AsyncChat::push_with_producer from their headers: every callback exactly once, replies split at
// every byte boundary, a VALUE whose data holds "\r\nEND\r\n", the server closing mid-reply,
// re-entrant callbacks, thousands of pipelined requests with a high-water mark, destroying the
// client from inside the loop with requests pending. A plain listening socket plays the server;
// a real memcached for the pipelining test. Every wait has a deadline; nothing sleeps.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "client/producer.h"
#include "samples/memcache/memcache_client.h"
#include "tests/client/client_test_util.h"
#include "tests/client/memcache_test_util.h"

namespace {

using asyncore::Loop;
using asyncore::make_dispatcher;
using asyncore::client_test::run_until;
using memcache::MemcacheClient;
using memcache::Result;
using memcache::Status;
using memcache::test::FakeServer;
using memcache::test::Memcached;
using memcache::test::Recorder;

// sizeof - 1: all of the literal but its terminating NUL, the embedded one included (36 bytes).
constexpr char kTrapBytes[] = "x\r\nEND\r\nVALUE k 0 3\r\nabc\r\nSTORED\r\n\0y";
const std::string kTrap(kTrapBytes, sizeof kTrapBytes - 1);

// Replies split at every byte boundary (one byte per read), including a VALUE block whose data is
// itself a valid-looking reply stream.
TEST(MemcacheAttack, RepliesOneBytePerReadWithTrapValue) {
  Recorder calls;
  Loop loop;
  FakeServer fake;
  auto mc = make_dispatcher<MemcacheClient>(loop, "127.0.0.1", fake.port());
  mc->get("k", calls.cb(1));
  mc->set("k", kTrap, 7, 0, calls.cb(2));
  mc->remove("gone", calls.cb(3));
  mc->get_many({"a", "b", "c"}, calls.cb(4));
  mc->get("missing", calls.cb(5));
  ASSERT_TRUE(fake.accept(loop));
  ASSERT_TRUE(fake.read_until(loop, "get missing\r\n"));
  std::string reply = "VALUE k 7 " + std::to_string(kTrap.size()) + "\r\n" + kTrap + "\r\nEND\r\n" +
                      "STORED\r\n" + "NOT_FOUND\r\n" + "VALUE a 1 0\r\n\r\n" +
                      "VALUE c 4294967295 2\r\n\r\n\r\nEND\r\n" + "END\r\n";
  fake.send_bytewise(loop, reply);
  ASSERT_TRUE(run_until(loop, [&] { return calls.calls.size() >= 5; }));
  ASSERT_EQ(calls.calls.size(), 5u);
  for (int i = 1; i <= 5; ++i) EXPECT_EQ(calls.count(i), 1) << i;
  EXPECT_EQ(calls.calls[0].first, 1);
  ASSERT_EQ(calls.of(1).status, Status::kOk);
  ASSERT_EQ(calls.of(1).values.size(), 1u);
  EXPECT_EQ(calls.of(1).values[0].data, kTrap);
  EXPECT_EQ(calls.of(1).values[0].flags, 7u);
  EXPECT_EQ(calls.of(2).status, Status::kStored);
  EXPECT_EQ(calls.of(3).status, Status::kNotFound);
  ASSERT_EQ(calls.of(4).status, Status::kOk);
  ASSERT_EQ(calls.of(4).values.size(), 2u);
  EXPECT_EQ(calls.of(4).values[0].data, "");
  EXPECT_EQ(calls.of(4).values[1].data, "\r\n");
  EXPECT_EQ(calls.of(4).values[1].flags, 4294967295u);
  EXPECT_EQ(calls.of(5).status, Status::kOk);
  EXPECT_TRUE(calls.of(5).values.empty());
  EXPECT_TRUE(mc->is_open());
  EXPECT_EQ(mc->pending_requests(), 0u);
  mc->close();
}

// The server closes at every possible byte of a reply: the request gets kClosed exactly once (not
// a truncated kOk), and requests made after the close fail at once.
TEST(MemcacheAttack, ServerClosesAtEveryByteOfAReply) {
  const std::string reply = "VALUE k 0 10\r\n0123456789\r\nEND\r\n";
  for (size_t cut = 0; cut < reply.size(); ++cut) {
    Recorder calls;
    Loop loop;
    FakeServer fake;
    auto mc = make_dispatcher<MemcacheClient>(loop, "127.0.0.1", fake.port());
    mc->get("k", calls.cb(1));
    mc->set("z", "v", 0, 0, calls.cb(2));
    ASSERT_TRUE(fake.accept(loop));
    ASSERT_TRUE(fake.read_until(loop, "\r\nv\r\n"));
    fake.send(loop, reply.substr(0, cut));
    fake.close_connection();
    ASSERT_TRUE(run_until(loop, [&] { return calls.calls.size() >= 2; })) << "cut " << cut;
    EXPECT_EQ(calls.count(1), 1) << "cut " << cut;
    EXPECT_EQ(calls.count(2), 1) << "cut " << cut;
    EXPECT_EQ(calls.of(1).status, Status::kClosed) << "cut " << cut;
    EXPECT_EQ(calls.of(2).status, Status::kClosed) << "cut " << cut;
    EXPECT_EQ(calls.calls[0].first, 1);
    bool late = false;
    mc->get("k", [&](Result r) { late = r.status == Status::kClosed; });
    EXPECT_TRUE(late) << "a request on a closed client must fail before the call returns";
    run_until(
        loop, [&] { return !mc->is_open(); }, 1);
    EXPECT_EQ(calls.calls.size(), 2u);
  }
}

// A callback that makes new requests, and then one that closes the client: every callback runs
// exactly once, the ones after the close with kClosed, the new ones made after close at once.
TEST(MemcacheAttack, CallbacksReenterWithRequestsThenClose) {
  Recorder calls;
  Loop loop;
  FakeServer fake;
  auto mc = make_dispatcher<MemcacheClient>(loop, "127.0.0.1", fake.port());
  std::vector<int> order;
  mc->get("a", [&](Result r) {
    order.push_back(1);
    EXPECT_EQ(r.status, Status::kOk);
    mc->get("c", calls.cb(10));                   // queued behind b
    mc->set("bad key", "v", 0, 0, calls.cb(11));  // invalid: before the call returns
    EXPECT_EQ(calls.count(11), 1);
  });
  mc->get("b", [&](Result r) {
    order.push_back(2);
    EXPECT_EQ(r.status, Status::kOk);
    mc->close();
    EXPECT_EQ(calls.count(10), 1) << "close() fails the pending ones";
    mc->get("d", calls.cb(12));
    EXPECT_EQ(calls.count(12), 1) << "a request on a closed client fails at once";
  });
  mc->get("x", calls.cb(13));
  ASSERT_TRUE(fake.accept(loop));
  ASSERT_TRUE(fake.read_until(loop, "get x\r\n"));
  // Both replies (and x's) in one segment: the close in b's callback must stop the parsing.
  fake.send(loop, "END\r\nEND\r\nEND\r\nEND\r\n");
  ASSERT_TRUE(run_until(loop, [&] { return calls.count(13) == 1 && calls.count(10) == 1; }));
  run_until(
      loop, [&] { return false; }, 0.1);
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
  EXPECT_EQ(calls.of(10).status, Status::kClosed);
  EXPECT_EQ(calls.of(11).status, Status::kInvalid);
  EXPECT_EQ(calls.of(12).status, Status::kClosed);
  EXPECT_EQ(calls.of(13).status, Status::kClosed);
  EXPECT_EQ(calls.count(10) + calls.count(11) + calls.count(12) + calls.count(13), 4);
  EXPECT_EQ(mc->pending_requests(), 0u);
}

// close() from a kClosed callback (already closing): no recursion, each callback once.
TEST(MemcacheAttack, CloseFromInsideAClosedCallbackIsHarmless) {
  Recorder calls;
  Loop loop;
  FakeServer fake;
  auto mc = make_dispatcher<MemcacheClient>(loop, "127.0.0.1", fake.port());
  int reentered = 0;
  mc->get("a", [&](Result r) {
    EXPECT_EQ(r.status, Status::kClosed);
    ++reentered;
    mc->close();
    mc->get("again", calls.cb(1000));
  });
  for (int i = 0; i < 50; ++i) mc->get("k" + std::to_string(i), calls.cb(i));
  ASSERT_TRUE(fake.accept(loop));
  mc->close();
  EXPECT_EQ(reentered, 1);
  EXPECT_EQ(calls.calls.size(), 51u);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(calls.count(i), 1) << i;
  EXPECT_EQ(calls.count(1000), 1);
  EXPECT_EQ(mc->pending_requests(), 0u);
}

// Destroying an owned client from inside the loop (a timer) with requests in flight: every
// callback runs once with kClosed, nothing runs later.
TEST(MemcacheAttack, DestroyOwnedClientFromATimerWithRequestsPending) {
  Recorder calls;
  Loop loop;
  FakeServer fake;
  auto mc = std::make_unique<MemcacheClient>(loop, "127.0.0.1", fake.port());
  for (int i = 0; i < 100; ++i) mc->set("k" + std::to_string(i), "value", 0, 0, calls.cb(i));
  ASSERT_TRUE(fake.accept(loop));
  ASSERT_TRUE(fake.read_until(loop, "k99 "));
  fake.send(loop, "STORED\r\nSTORED\r\n");  // two answered
  ASSERT_TRUE(run_until(loop, [&] { return calls.calls.size() >= 2; }));
  bool destroyed = false;
  loop.call_later(0.0, [&] {
    mc.reset();
    destroyed = true;
  });
  ASSERT_TRUE(run_until(loop, [&] { return destroyed; }));
  fake.send(loop, "STORED\r\n");
  run_until(
      loop, [&] { return false; }, 0.1);
  ASSERT_EQ(calls.calls.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(calls.count(i), 1) << i;
  EXPECT_EQ(calls.of(0).status, Status::kStored);
  EXPECT_EQ(calls.of(1).status, Status::kStored);
  for (int i = 2; i < 100; ++i) EXPECT_EQ(calls.of(i).status, Status::kClosed) << i;
}

// Thousands pipelined against a server that reads nothing, with a high-water mark: the request
// that crossed it and every pending one fail with kClosed before that call returns; later ones
// fail at once; push_with_producer() then returns false.
TEST(MemcacheAttack, ThousandsPipelinedIntoASilentServerHitTheHighWaterMark) {
  Recorder calls;
  Loop loop;
  FakeServer fake;
  auto mc = make_dispatcher<MemcacheClient>(loop, "127.0.0.1", fake.port());
  size_t high_water_seen = 0;
  mc->set_high_water_mark(256 * 1024, [&](size_t buffered) { high_water_seen = buffered; });
  ASSERT_TRUE(fake.accept(loop));
  ASSERT_TRUE(run_until(loop, [&] { return mc->connected(); }));
  const std::string value(4096, 'v');
  int crossed = -1;
  for (int i = 0; i < 20000; ++i) {
    const size_t before = calls.calls.size();
    mc->set("k" + std::to_string(i), value, 0, 0, calls.cb(i));
    if (calls.calls.size() > before) {
      crossed = i;
      EXPECT_EQ(calls.calls.size(), static_cast<size_t>(i + 1))
          << "every pending request fails before the crossing call returns";
      break;
    }
    if (i % 16 == 0) loop.poll(0);  // the kernel takes what it can
  }
  ASSERT_GE(crossed, 0) << "the high-water mark never closed the client";
  EXPECT_GT(high_water_seen, 256u * 1024);
  EXPECT_FALSE(mc->is_open());
  for (int i = 0; i <= crossed; ++i) {
    ASSERT_EQ(calls.count(i), 1) << i;
    EXPECT_EQ(calls.of(i).status, Status::kClosed) << i;
  }
  EXPECT_EQ(mc->pending_requests(), 0u);
  bool late = false;
  mc->remove("k1", [&](Result r) { late = r.status == Status::kClosed; });
  EXPECT_TRUE(late);
  EXPECT_FALSE(mc->push_with_producer(std::string("get x\r\n")));
  EXPECT_FALSE(mc->push("get x\r\n"));
}

// The real memcached: thousands pipelined, with callbacks re-entering (each answer issues a get of
// what it stored), all answered in order, each once.
TEST(MemcacheAttackReal, ThousandsPipelinedWithReentrantGets) {
  Memcached server;
  ASSERT_TRUE(server.start());
  Loop loop;
  auto mc = make_dispatcher<MemcacheClient>(loop, "127.0.0.1", server.port());
  mc->set_high_water_mark(64u << 20);
  const int n = 5000;
  std::vector<int> set_order, get_order;
  std::map<int, int> get_count;
  int bad = 0;
  for (int i = 0; i < n; ++i) {
    const std::string key = "key" + std::to_string(i);
    const std::string value = std::to_string(i) + std::string(i % 3 == 0 ? 3000 : 5, '\n');
    mc->set(key, value, static_cast<uint32_t>(i), 0, [&, i, key, value](Result r) {
      set_order.push_back(i);
      if (r.status != Status::kStored) ++bad;
      mc->get(key, [&, i, key, value](Result g) {
        get_order.push_back(i);
        ++get_count[i];
        const memcache::Value* v = g.find(key);
        if (g.status != Status::kOk || v == nullptr || v->data != value ||
            v->flags != static_cast<uint32_t>(i)) {
          ++bad;
        }
      });
    });
  }
  ASSERT_TRUE(run_until(
      loop, [&] { return get_order.size() >= static_cast<size_t>(n); }, 30))
      << get_order.size();
  EXPECT_EQ(bad, 0);
  ASSERT_EQ(set_order.size(), static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(set_order[i], i);
    EXPECT_EQ(get_order[i], i);
    EXPECT_EQ(get_count[i], 1);
  }
  EXPECT_EQ(mc->pending_requests(), 0u);
  EXPECT_TRUE(mc->is_open());
  mc->close();
}

}  // namespace

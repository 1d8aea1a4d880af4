// Attacks on the read path of issue #13, written against the headers' promises only (not the
// implementation): FrameBatch, MessageWorker (queue, back-pressure handshake, stop/join/discard),
// Message (assign, peek_type), the STT scanner and unescape rules, the typed views (one pass,
// first occurrence wins, integer rule), the JSON encoder (valid JSON and UTF-8 for any input), and
// DouyuClient end to end against the simulator with tiny receive marks.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "douyu/client/douyu_client.h"
#include "douyu/client/message_worker.h"
#include "douyu/protocol/frame_batch.h"
#include "douyu/protocol/frame_decoder.h"
#include "douyu/protocol/json.h"
#include "douyu/protocol/message.h"
#include "douyu/protocol/packet.h"
#include "douyu/protocol/stt.h"
#include "douyu/protocol/typed_fields.h"
#include "douyu/protocol/typed_messages.h"
#include "douyu/simulator/douyu_server.h"
#include "douyu/simulator/synthetic.h"
#include "tests/douyu/stt_reference.h"
#include "tests/douyu/test_util.h"
#include "tests/douyu_session/client_test_util.h"
#include "tests/douyu_session/raw_server.h"

namespace asyncore::douyu::test {
namespace {

using Clock = std::chrono::steady_clock;
using testing::Rng;

std::string seq_body(uint64_t n) { return "type@=t/seq@=" + std::to_string(n) + "/"; }

uint64_t seq_of(const Message& m) {
  auto v = m.get("seq");
  if (!v) return 0;
  uint64_t out = 0;
  std::from_chars(v->data(), v->data() + v->size(), out);
  return out;
}

// True when `seqs` is 1..seqs.size() in order.
bool is_prefix(const std::vector<uint64_t>& seqs) {
  for (size_t i = 0; i < seqs.size(); ++i) {
    if (seqs[i] != i + 1) return false;
  }
  return true;
}

std::string random_stt(Rng& rng, size_t len);  // STT-ish text: runs of '@', '=', '/'

// ================================================================ FrameBatch

TEST(ReadPathAttackFrameBatch, BodiesRoundTripAndRecycleGivesBigBuffersBack) {
  FrameBatch b;
  const std::vector<std::string> bodies = {
      "", "a", std::string("x\0y", 3), "", std::string(70, 'z'), ""};
  for (auto& s : bodies) b.add(s);
  ASSERT_EQ(b.size(), bodies.size());
  for (size_t i = 0; i < bodies.size(); ++i) EXPECT_EQ(b.body(i), bodies[i]) << i;
  const size_t small = b.memory_bytes();
  b.recycle(1 << 20);  // below keep: capacity kept
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.memory_bytes(), small);
  b.add(std::string(1 << 20, 'q'));
  const size_t big = b.memory_bytes();
  b.recycle(64 * 1024);  // above keep: memory given back
  EXPECT_TRUE(b.empty());
  EXPECT_LT(b.memory_bytes(), 64u * 1024);
  EXPECT_LT(b.memory_bytes(), big);
  b.add("again");
  EXPECT_EQ(b.body(0), "again");
}

// A batch decodes each body in place (stt_decode_fields_in_place): its fields, read against
// body(i), are the keys and values of the Message decoded from the wire body, whatever it held;
// lend() and assign() from (body, fields) give that Message; a body without '@' escapes is kept
// byte for byte.
TEST(ReadPathAttackFrameBatch, DecodedFieldsMatchTheMessageDecodedFromTheBody) {
  Rng rng(31);
  FrameBatch b;
  std::vector<std::string> bodies;
  Message reused;
  Message lent;
  for (int round = 0; round < 300; ++round) {
    bodies.clear();
    const size_t n = rng.below(40);
    for (size_t i = 0; i < n; ++i) {
      bodies.push_back(rng.below(5) == 0 ? std::string() : random_stt(rng, rng.below(130)));
      if (rng.below(4) == 0) bodies.back() = "type@=" + bodies.back();
      if (rng.below(2) == 0) {
        b.add(bodies.back());
      } else {
        b.add_unscanned(bodies.back());
      }
    }
    ASSERT_EQ(b.size(), n);
    b.scan();
    for (size_t i = 0; i < n; ++i) {
      const Message fresh(bodies[i]);
      if (bodies[i].find('@') == std::string::npos) {
        ASSERT_EQ(b.body(i), bodies[i]);
      }
      const auto got = b.fields(i);
      ASSERT_EQ(got.size(), fresh.size()) << "'" << bodies[i] << "'";
      for (size_t f = 0; f < got.size(); ++f) {
        ASSERT_EQ(got[f].raw_key(b.body(i)), fresh.key(f)) << "'" << bodies[i] << "'";
        ASSERT_EQ(got[f].raw_value(b.body(i)), fresh.value(f)) << "'" << bodies[i] << "'";
        ASSERT_FALSE(got[f].key_escaped() || got[f].value_escaped());
      }
      b.lend(i, lent);
      ASSERT_EQ(lent.type(), fresh.type()) << "'" << bodies[i] << "'";
      ASSERT_EQ(lent.encode(), fresh.encode());
      reused.assign(b.body(i), b.fields(i));
      ASSERT_EQ(reused.size(), fresh.size()) << "'" << bodies[i] << "'";
      ASSERT_EQ(reused.type(), fresh.type()) << "'" << bodies[i] << "' (stale type?)";
      for (size_t f = 0; f < fresh.size(); ++f) {
        ASSERT_EQ(reused.key(f), fresh.key(f)) << "'" << bodies[i] << "'";
        ASSERT_EQ(reused.value(f), fresh.value(f)) << "'" << bodies[i] << "'";
      }
      ASSERT_EQ(reused.encode(), fresh.encode());
    }
    b.recycle(rng.below(2) ? 1 : 1 << 20);
    ASSERT_TRUE(b.empty());
  }
}

// Received in place (DouyuClient's way): the stream in random reads into receive_space(), whole
// frames added where they lie, the start of the next carried over by take_tail() into the next
// batch: every body decoded as the Message of the wire body, in order, none copied while added.
TEST(ReadPathAttackFrameBatch, ReceivedInPlaceFramesAndCarriedTailsLoseNothing) {
  Rng rng(47);
  std::string stream;
  std::vector<std::string> bodies;
  for (int i = 0; i < 2000; ++i) {
    bodies.push_back(rng.below(6) == 0 ? std::string() : random_stt(rng, rng.below(400)));
    stream += Packet(bodies.back(), kServerToClient).bytes();
  }
  FrameDecoder decoder(FrameDecoderOptions{kDefaultMaxLength, kServerToClient, true});
  FrameBatch batch;
  std::string tail;
  Message lent;
  size_t next = 0;
  for (size_t at = 0; at < stream.size();) {
    const size_t n = std::min<size_t>(1 + rng.below(rng.below(2) ? 64 : 4096), stream.size() - at);
    std::memcpy(batch.receive_space(n), stream.data() + at, n);
    batch.received(n);
    at += n;
    const bool decode_now = rng.below(2) == 0;
    size_t split = 0;
    ASSERT_TRUE(decoder.split(batch.received_bytes(), split, [&](const FrameView& f) {
      batch.add_received(f.body, decode_now);
    })) << decoder.error_message();
    if (batch.empty()) continue;  // only a frame's start so far: it stays, more is received after
    batch.take_tail(split, tail);
    batch.scan();
    for (size_t i = 0; i < batch.size(); ++i, ++next) {
      batch.lend(i, lent);
      ASSERT_EQ(lent.encode(), Message(bodies[next]).encode()) << "frame " << next;
    }
    batch.recycle(rng.below(2) ? 1 : SIZE_MAX);
    batch.received(tail);
  }
  EXPECT_EQ(next, bodies.size());
  EXPECT_TRUE(batch.received_bytes().empty());
}

// ================================================================ MessageWorker

// stop(false) + join() from inside `deliver`: join returns at once, the message in progress is the
// last delivered, the rest of the queue is discarded and counted.
TEST(ReadPathAttackWorker, StopFalseAndJoinFromTheOwnCallback) {
  constexpr uint64_t kN = 500, kStopAt = 137;
  std::atomic<MessageWorker*> self{nullptr};
  std::vector<uint64_t> seen;  // worker thread only until join
  std::atomic<bool> join_returned{false};
  auto worker = std::make_unique<MessageWorker>(
      100000, 0,
      [&](const Message& m) {
        seen.push_back(seq_of(m));
        if (seen.size() == kStopAt) {
          EXPECT_TRUE(self.load()->on_worker_thread());
          self.load()->stop(false);
          self.load()->stop(false);  // idempotent
          self.load()->join();       // from inside deliver: returns at once
          join_returned = true;
        }
      },
      [] {});
  self = worker.get();
  EXPECT_FALSE(worker->on_worker_thread());
  FrameBatch batch;
  for (uint64_t i = 1; i <= kN; ++i) batch.add(seq_body(i));
  worker->push(batch);  // all in one push: the whole queue exists before the stop
  EXPECT_TRUE(batch.empty());
  worker->join();
  EXPECT_TRUE(join_returned);
  EXPECT_EQ(seen.size(), kStopAt);
  EXPECT_TRUE(is_prefix(seen));
  EXPECT_EQ(worker->delivered(), kStopAt);
  EXPECT_EQ(worker->discarded(), kN - kStopAt);
  EXPECT_EQ(worker->delivered() + worker->discarded(), kN);
  EXPECT_EQ(worker->pending(), 0u);
  EXPECT_EQ(worker->pending_bytes(), 0u);
  worker.reset();
  EXPECT_EQ(seen.size(), kStopAt) << "delivered after stop(false)";
}

// stop(true) from inside `deliver`, across several batches: everything queued is delivered.
TEST(ReadPathAttackWorker, StopTrueFromTheOwnCallbackDeliversEverythingQueued) {
  constexpr uint64_t kPerBatch = 50, kBatches = 20;
  std::atomic<MessageWorker*> self{nullptr};
  std::mutex mutex;
  std::condition_variable cv;
  bool pushed_all = false;
  std::vector<uint64_t> seen;
  MessageWorker worker(
      100000, 0,
      [&](const Message& m) {
        seen.push_back(seq_of(m));
        if (seen.size() == 1) {
          // Hold the first message until every batch is queued, then stop from here.
          std::unique_lock lock(mutex);
          cv.wait_for(lock, std::chrono::seconds(10), [&] { return pushed_all; });
          self.load()->stop(true);
          self.load()->join();
        }
      },
      [] {});
  self = &worker;
  FrameBatch batch;
  uint64_t n = 0;
  for (uint64_t b = 0; b < kBatches; ++b) {
    for (uint64_t i = 0; i < kPerBatch; ++i) batch.add(seq_body(++n));
    worker.push(batch);
  }
  {
    std::lock_guard lock(mutex);
    pushed_all = true;
  }
  cv.notify_all();
  worker.join();
  EXPECT_EQ(seen.size(), n);
  EXPECT_TRUE(is_prefix(seen));
  EXPECT_EQ(worker.delivered(), n);
  EXPECT_EQ(worker.discarded(), 0u);
  EXPECT_EQ(worker.pending(), 0u);
  EXPECT_EQ(worker.pending_bytes(), 0u);
}

// The producer pushes while several threads call stop(false) / stop(true) / join() at once. No
// hang, no duplicate, no reordering; everything pushed before the first stop is either delivered
// or discarded.
TEST(ReadPathAttackWorker, ConcurrentStopsAndJoinsWhileTheProducerPushes) {
  for (int round = 0; round < 10; ++round) {
    std::vector<uint64_t> seen;
    auto worker = std::make_unique<MessageWorker>(
        1 << 30, 0, [&](const Message& m) { seen.push_back(seq_of(m)); }, [] {});
    std::atomic<uint64_t> pushed{0};
    std::atomic<bool> go{false};
    std::atomic<bool> producer_done{false};
    std::thread producer([&] {
      FrameBatch batch;
      uint64_t n = 0;
      Rng rng(static_cast<uint64_t>(round));
      while (n < 20000) {
        const uint64_t k = 1 + rng.below(40);
        for (uint64_t i = 0; i < k; ++i) batch.add(seq_body(++n));
        worker->push(batch);
        pushed.store(n);
        if (n > 2000) go = true;
      }
      producer_done = true;
    });
    std::vector<std::thread> stoppers;
    for (int t = 0; t < 5; ++t) {
      stoppers.emplace_back([&, t] {
        while (!go) std::this_thread::yield();
        if (t % 3 == 0) worker->stop(false);
        if (t % 3 == 1) worker->stop(true);
        worker->join();
      });
    }
    for (auto& t : stoppers) t.join();
    producer.join();
    worker->join();
    const uint64_t delivered = worker->delivered(), discarded = worker->discarded();
    EXPECT_EQ(delivered, seen.size());
    EXPECT_TRUE(is_prefix(seen)) << "round " << round;
    EXPECT_LE(delivered + discarded, pushed.load());
    EXPECT_GE(delivered + discarded, 2000u) << "what was pushed before the stops is accounted";
    worker.reset();
    EXPECT_EQ(seen.size(), delivered) << "delivered after join";
  }
}

// on_worker_thread() is "true on the worker thread itself". Once the worker thread has ended and
// been joined, the system reuses its thread id for the next thread it creates (glibc: at once), and
// a stale id makes an unrelated thread look like the worker.
// Regression: at a4a4e21 MessageWorker kept worker_id_ after its thread ended; on glibc the next
// std::thread gets the same id, and on_worker_thread() answered true there (80 of 80 threads).
// Fixed in dd13421 (the id is cleared when the worker ends).
TEST(ReadPathAttackWorker, OnWorkerThreadIsFalseOnANewThreadThatReusesTheWorkersId) {
  int reused = 0, wrong = 0;
  for (int round = 0; round < 20; ++round) {
    std::thread::id worker_id;
    MessageWorker worker(
        16, 0, [&](const Message&) { worker_id = std::this_thread::get_id(); }, [] {});
    FrameBatch batch;
    batch.add(seq_body(1));
    worker.push(batch);
    worker.stop(true);
    worker.join();
    ASSERT_NE(worker_id, std::thread::id());
    for (int t = 0; t < 4; ++t) {
      std::thread([&] {
        if (std::this_thread::get_id() != worker_id) return;
        ++reused;
        if (worker.on_worker_thread()) ++wrong;
      }).join();
    }
  }
  if (reused == 0) GTEST_SKIP() << "no thread id was reused here";
  EXPECT_EQ(wrong, 0) << "on_worker_thread() was true on " << wrong << " of " << reused
                      << " threads that merely reuse the ended worker's id";
}

// stop(false) from another thread while the worker is inside a slow callback: the message in
// progress is the last one delivered, the rest is discarded and counted.
TEST(ReadPathAttackWorker, StopFalseFromAnotherThreadDuringASlowCallback) {
  constexpr uint64_t kN = 1000, kSlow = 10;
  std::mutex mutex;
  std::condition_variable cv;
  bool in_slow = false, release = false;
  std::vector<uint64_t> seen;
  MessageWorker worker(
      1 << 20, 0,
      [&](const Message& m) {
        seen.push_back(seq_of(m));
        if (seen.size() == kSlow) {
          std::unique_lock lock(mutex);
          in_slow = true;
          cv.notify_all();
          cv.wait_for(lock, std::chrono::seconds(10), [&] { return release; });
        }
      },
      [] {});
  FrameBatch batch;
  for (uint64_t i = 1; i <= kN; ++i) {
    batch.add(seq_body(i));
    if (i % 7 == 0) worker.push(batch);
  }
  worker.push(batch);
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return in_slow; }));
  }
  std::thread stopper([&] { worker.stop(false); });
  stopper.join();  // stop() returns at once, even with the worker busy
  {
    std::lock_guard lock(mutex);
    release = true;
  }
  cv.notify_all();
  worker.join();
  EXPECT_EQ(seen.size(), kSlow);
  EXPECT_TRUE(is_prefix(seen));
  EXPECT_EQ(worker.delivered(), kSlow);
  EXPECT_EQ(worker.discarded(), kN - kSlow);
  EXPECT_EQ(worker.pending(), 0u);
  EXPECT_EQ(worker.pending_bytes(), 0u);
}

// Destroying the worker right after a push delivers what was pushed (~ = stop(true) + join).
TEST(ReadPathAttackWorker, DestroyRightAfterPushDeliversEverything) {
  for (int round = 0; round < 300; ++round) {
    std::vector<uint64_t> seen;
    const uint64_t n = 1 + static_cast<uint64_t>(round % 17);
    {
      MessageWorker worker(
          1 << 20, 1 << 30, [&](const Message& m) { seen.push_back(seq_of(m)); }, [] {});
      FrameBatch batch;
      for (uint64_t i = 1; i <= n; ++i) batch.add(seq_body(i));
      worker.push(batch);
    }
    ASSERT_EQ(seen.size(), n) << "round " << round;
    ASSERT_TRUE(is_prefix(seen));
  }
}

// pending() and pending_bytes() read from a third thread during a flood never underflow (a read
// of pushed then consumed, in that order, can see consumed > pushed), and pending() inside
// `deliver` is at least 1 (the message being delivered still counts).
TEST(ReadPathAttackWorker, PendingNeverUnderflowsWhenObservedFromAThirdThread) {
  constexpr uint64_t kTotal = 300000;
  std::atomic<uint64_t> zero_inside{0};
  std::atomic<uint64_t> next_expected{1};
  std::atomic<uint64_t> out_of_order{0};
  MessageWorker* self = nullptr;
  MessageWorker worker(
      1 << 30, 0,
      [&](const Message& m) {
        if (self->pending() == 0 || self->pending_bytes() == 0) ++zero_inside;
        if (seq_of(m) != next_expected.load(std::memory_order_relaxed)) ++out_of_order;
        next_expected.store(seq_of(m) + 1, std::memory_order_relaxed);
      },
      [] {});
  self = &worker;
  std::atomic<bool> done{false};
  std::atomic<uint64_t> max_pending{0}, max_bytes{0}, samples{0};
  std::thread observer([&] {
    while (!done.load()) {
      const uint64_t p = worker.pending(), b = worker.pending_bytes();
      if (p > max_pending) max_pending = p;
      if (b > max_bytes) max_bytes = b;
      ++samples;
    }
  });
  FrameBatch batch;
  Rng rng(7);
  uint64_t n = 0;
  while (n < kTotal) {
    const uint64_t k = 1 + rng.below(64);
    for (uint64_t i = 0; i < k && n < kTotal; ++i) batch.add(seq_body(++n));
    worker.push(batch);
    if (worker.pending() > kTotal) max_pending = worker.pending();  // producer's view too
  }
  worker.stop(true);
  worker.join();
  done = true;
  observer.join();
  EXPECT_GT(samples.load(), 0u);
  EXPECT_LE(max_pending.load(), kTotal) << "pending() underflowed";
  EXPECT_LT(max_bytes.load(), uint64_t{1} << 40) << "pending_bytes() underflowed";
  EXPECT_EQ(zero_inside.load(), 0u) << "pending() was 0 inside deliver";
  EXPECT_EQ(out_of_order.load(), 0u);
  EXPECT_EQ(worker.delivered(), kTotal);
  EXPECT_EQ(worker.pending(), 0u);
  EXPECT_EQ(worker.pending_bytes(), 0u);
}

// Thousands of pause/drain cycles with tiny marks (1, 2, 3 messages; a byte mark below one batch):
// every should_pause() == true is followed by on_drained, and at that point both counts are at or
// below half their mark (so should_pause() says no).
void drain_cycles(size_t high_water, size_t high_water_bytes, int cycles) {
  std::mutex mutex;
  std::condition_variable cv;
  uint64_t drains = 0;
  std::vector<uint64_t> seen;
  MessageWorker worker(
      high_water, high_water_bytes, [&](const Message& m) { seen.push_back(seq_of(m)); },
      [&] {
        std::lock_guard lock(mutex);
        ++drains;
        cv.notify_all();
      });
  FrameBatch batch;
  uint64_t n = 0;
  int lost = 0, not_drained = 0, pauses = 0;
  Rng rng(high_water * 131 + high_water_bytes);
  for (int cycle = 0; cycle < cycles && lost == 0 && not_drained == 0; ++cycle) {
    for (;;) {
      const uint64_t k = 1 + rng.below(3);
      for (uint64_t i = 0; i < k; ++i) batch.add(seq_body(++n));
      worker.push(batch);
      uint64_t before;
      {
        std::lock_guard lock(mutex);
        before = drains;
      }
      if (!worker.should_pause()) continue;
      ++pauses;
      std::unique_lock lock(mutex);
      if (!cv.wait_for(lock, std::chrono::seconds(5), [&] { return drains != before; })) {
        ++lost;
        break;
      }
      lock.unlock();
      // Drained: the worker only lowers the counts from here (nothing is pushed meanwhile).
      const size_t p = worker.pending(), b = worker.pending_bytes();
      const bool bytes_ok = high_water_bytes == 0 || b <= high_water_bytes / 2;
      if (p > worker.low_water() || !bytes_ok) {
        ++not_drained;
        ADD_FAILURE() << "on_drained with pending=" << p << " bytes=" << b << " (marks "
                      << high_water << ", " << high_water_bytes << ")";
      }
      EXPECT_FALSE(worker.should_pause()) << "drained yet should_pause()";
      break;
    }
  }
  EXPECT_EQ(lost, 0) << "a drain notification was lost (marks " << high_water << ", "
                     << high_water_bytes << ")";
  EXPECT_GT(pauses, 0);
  worker.stop(true);
  worker.join();
  EXPECT_EQ(worker.delivered(), n);
  EXPECT_EQ(worker.discarded(), 0u);
  EXPECT_EQ(seen.size(), n);
  EXPECT_TRUE(is_prefix(seen));
  EXPECT_EQ(worker.pending(), 0u);
  EXPECT_EQ(worker.pending_bytes(), 0u);
}

TEST(ReadPathAttackWorker, DrainNeverLostWithHighWaterOne) { drain_cycles(1, 0, 3000); }
TEST(ReadPathAttackWorker, DrainNeverLostWithHighWaterTwo) { drain_cycles(2, 0, 3000); }
TEST(ReadPathAttackWorker, DrainNeverLostWithHighWaterThree) { drain_cycles(3, 0, 3000); }
TEST(ReadPathAttackWorker, DrainNeverLostWithAByteMarkOfOne) { drain_cycles(1000, 1, 3000); }
TEST(ReadPathAttackWorker, DrainNeverLostWithBothMarksTiny) { drain_cycles(2, 3, 3000); }

// Order across batches of random sizes, interleaved with empty pushes (ignored) and empty bodies
// (a message with no field); the reused Message never leaks fields of a previous, bigger one.
TEST(ReadPathAttackWorker, OrderAcrossBatchesEmptyPushesAndNoStaleFields) {
  struct Seen {
    uint64_t seq;
    size_t size;
    std::string txt;
  };
  std::vector<Seen> seen;
  MessageWorker worker(
      1 << 30, 0,
      [&](const Message& m) {
        seen.push_back({seq_of(m), m.size(), std::string(m.get_or("txt", "<none>"))});
      },
      [] {});
  std::vector<size_t> expect_size;
  std::vector<std::string> expect_txt;
  FrameBatch batch;
  Rng rng(3);
  uint64_t n = 0;
  for (int b = 0; b < 400; ++b) {
    if (rng.below(5) == 0) {
      const size_t before = worker.pending();
      worker.push(batch);  // empty: ignored
      EXPECT_TRUE(batch.empty());
      EXPECT_LE(worker.pending(), before);
    }
    const uint64_t k = 1 + rng.below(30);
    for (uint64_t i = 0; i < k; ++i) {
      ++n;
      if (rng.below(10) == 0) {
        batch.add("");  // an empty body: a message of no field
        expect_size.push_back(0);
        expect_txt.push_back("<none>");
        continue;
      }
      std::string body = seq_body(n);
      const size_t fillers = rng.below(3) == 0 ? 60 : rng.below(3);
      for (size_t f = 0; f < fillers; ++f) body += "f" + std::to_string(f) + "@=v@A@S/";
      std::string txt = "t" + std::to_string(n) + "@S@A";
      body += "txt@=" + txt + "/";
      batch.add(body);
      expect_size.push_back(2 + fillers + 1);
      expect_txt.push_back("t" + std::to_string(n) + "/@");
    }
    worker.push(batch);
    EXPECT_TRUE(batch.empty());
  }
  worker.stop(true);
  worker.join();
  ASSERT_EQ(seen.size(), n);
  for (uint64_t i = 0; i < n; ++i) {
    if (expect_size[i] != 0) {
      ASSERT_EQ(seen[i].seq, i + 1) << "reordered at " << i;
    }
    ASSERT_EQ(seen[i].size, expect_size[i]) << "stale or missing fields at " << i;
    ASSERT_EQ(seen[i].txt, expect_txt[i]) << i;
  }
}

// A callback that keeps a copy of the Message: each copy is independent of the worker's reused
// Message (same text long after later messages were decoded into it).
TEST(ReadPathAttackWorker, CopiesOfTheDeliveredMessageStayIndependent) {
  std::vector<Message> copies;
  std::vector<std::string> encoded_then;
  std::vector<std::string> type_then;
  MessageWorker worker(
      1 << 30, 0,
      [&](const Message& m) {
        copies.push_back(m);
        encoded_then.push_back(m.encode());
        type_then.emplace_back(m.type());
      },
      [] {});
  SyntheticRoom room(11);
  FrameBatch batch;
  std::vector<std::string> bodies;
  for (int b = 0; b < 50; ++b) {
    for (int i = 0; i < 40; ++i) {
      bodies.push_back(room.next_body());
      batch.add(bodies.back());
    }
    worker.push(batch);
  }
  worker.stop(true);
  worker.join();
  ASSERT_EQ(copies.size(), bodies.size());
  for (size_t i = 0; i < copies.size(); ++i) {
    const Message fresh(bodies[i]);
    ASSERT_EQ(copies[i].encode(), encoded_then[i]) << i;
    ASSERT_EQ(copies[i].type(), type_then[i]) << i;
    ASSERT_EQ(copies[i].encode(), fresh.encode()) << i;
    ASSERT_EQ(copies[i].size(), fresh.size()) << i;
    for (size_t f = 0; f < fresh.size(); ++f) {
      ASSERT_EQ(copies[i].key(f), fresh.key(f)) << i << "/" << f;
      ASSERT_EQ(copies[i].value(f), fresh.value(f)) << i << "/" << f;
    }
  }
}

// ================================================================ Message

TEST(ReadPathAttackMessage, AssignFromAViewIntoItsOwnStorage) {
  // A nested value unescaped once is a body of its own: decode it over the message holding it.
  Message m("type@=outer/nested@=type@A=inner@Sx@A=1@Sy@A=a@AAb@S/tail@=z/");
  ASSERT_EQ(m.get_or("nested"), "type@=inner/x@=1/y@=a@Ab/");
  const Message expect{std::string(m.get_or("nested"))};
  m.assign(m.get_or("nested"));
  EXPECT_EQ(m.type(), "inner");
  EXPECT_EQ(m.encode(), expect.encode());
  ASSERT_EQ(m.size(), expect.size());
  EXPECT_EQ(m.get_or("y"), "a@b");
  // A view of its own key, and of a suffix of its value.
  Message k("type@=a/long_key_that_is_a_body@=v/");
  k.assign(k.key(1));
  ASSERT_EQ(k.size(), 1u);
  EXPECT_EQ(k.key(0), "");
  EXPECT_EQ(k.value(0), "long_key_that_is_a_body");
  // The whole body view (value of a bare item that is the whole text).
  std::string big = "type@=big/";
  for (int i = 0; i < 2000; ++i) big += "k" + std::to_string(i) + "@=v/";
  Message whole("x@=" + stt_escape(big) + "/");
  whole.assign(whole.get_or("x"));
  EXPECT_EQ(whole.type(), "big");
  EXPECT_EQ(whole.size(), 2001u);
  EXPECT_EQ(whole.get_or("k1999"), "v");
}

TEST(ReadPathAttackMessage, AssignHugeThenSmallLeavesNoStaleFields) {
  Message m;
  std::string huge = "type@=huge/";
  for (int i = 0; i < 100000; ++i) huge += "a/";
  m.assign(huge);
  EXPECT_EQ(m.size(), 100001u);
  const size_t big_mem = m.memory_bytes();
  EXPECT_GE(big_mem, sizeof(Message) + huge.size() + 100001 * sizeof(RawField));
  m.assign("type@=small/x@=1/");
  EXPECT_EQ(m.size(), 2u);
  EXPECT_EQ(m.type(), "small");
  EXPECT_EQ(m.get_all("x").size(), 1u);
  EXPECT_FALSE(m.has(""));
  EXPECT_EQ(m.encode(), "type@=small/x@=1/");
  m.assign("");
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m.type(), "");
  m.assign("notype@=1/");
  EXPECT_EQ(m.type(), "") << "a stale type index survived assign()";
}

// A reference decode from the documented rules: split on '/', empty items skipped, split at the
// first "@=" (else a bare item), a final item without '/' kept; unescape in one pass.
std::vector<std::pair<size_t, size_t>> ref_scan_items(std::string_view text) {
  std::vector<std::pair<size_t, size_t>> out;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find('/', begin);
    if (end == std::string_view::npos) {
      out.push_back({begin, text.size() - begin});  // final item without '/': not empty here
      break;
    }
    out.push_back({begin, end - begin});
    begin = end + 1;
  }
  return out;
}

std::string random_stt(Rng& rng, size_t len) {
  static constexpr char kAlphabet[] = "@@@@==//AaSstype";
  std::string s;
  for (size_t i = 0; i < len; ++i) s.push_back(kAlphabet[rng.below(sizeof(kAlphabet) - 1)]);
  return s;
}

// Texts of lengths around 16/32/64/128 (and '/' or "@=" at every position near them), checked
// against the reference: offsets, separator and escape flags, and the decoded Message.
TEST(ReadPathAttackStt, ScannerMatchesTheDocumentedRulesOnAdversarialText) {
  Rng rng(42);
  std::vector<std::string> texts = {
      "",       "/",   "//", "@",   "@=",     "@=@=",   "@=@=/",  "@@@@",
      "@@@=x/", "a@=", "=@", "@/=", "type@=", "@A=@S/", "@=/@=/", "a@=b@=c"};
  for (size_t len : {15, 16, 17, 31, 32, 33, 63, 64, 65, 66, 127, 128, 129}) {
    for (size_t pos = 0; pos < len; ++pos) {
      std::string t(len, 'x');
      t[pos] = '/';
      texts.push_back(t);
      std::string u(len, '@');
      u[pos] = '/';
      texts.push_back(u);
      std::string v(len, 'k');
      v[pos] = '@';
      if (pos + 1 < len) v[pos + 1] = '=';
      texts.push_back(v + "/");
      std::string w(len, '@');
      w[pos] = '=';
      texts.push_back(w);
    }
    for (int i = 0; i < 200; ++i) texts.push_back(random_stt(rng, len));
  }
  for (int i = 0; i < 20000; ++i) texts.push_back(random_stt(rng, rng.below(200)));

  for (const auto& text : texts) {
    std::vector<RawField> got(1);  // APPENDS: the sentinel stays
    got[0].key_begin = 0xdead;
    stt_scan_fields(text, got);
    const auto want = testing::reference_scan_fields(text);
    ASSERT_EQ(got.size(), want.size() + 1) << "text '" << text << "'";
    ASSERT_EQ(got[0].key_begin, 0xdeadu);
    for (size_t i = 0; i < want.size(); ++i) {
      const RawField& g = got[i + 1];
      const RawField& w = want[i];
      ASSERT_EQ(g.has_separator(), w.has_separator()) << "text '" << text << "' item " << i;
      ASSERT_EQ(g.key_size, w.key_size) << "text '" << text << "' item " << i;
      if (w.key_size != 0) {
        ASSERT_EQ(g.key_begin, w.key_begin) << "text '" << text << "'";
      }
      ASSERT_EQ(g.value_begin, w.value_begin) << "text '" << text << "' item " << i;
      ASSERT_EQ(g.value_size, w.value_size) << "text '" << text << "' item " << i;
      const std::string_view key = g.raw_key(text), value = g.raw_value(text);
      ASSERT_EQ(g.key_escaped(), key.find('@') != std::string_view::npos) << "text '" << text;
      ASSERT_EQ(g.value_escaped(), value.find('@') != std::string_view::npos) << "text '" << text;
    }
    // The Message over it: unescaped keys and values, type() = first "type" key.
    const Message m{std::string(text)};
    ASSERT_EQ(m.size(), want.size()) << "text '" << text << "'";
    std::optional<std::string> first_type;
    for (size_t i = 0; i < want.size(); ++i) {
      const std::string k =
          testing::reference_unescape(text.substr(want[i].key_begin, want[i].key_size));
      const std::string v =
          testing::reference_unescape(text.substr(want[i].value_begin, want[i].value_size));
      ASSERT_EQ(m.key(i), want[i].key_size == 0 ? std::string() : k) << "text '" << text << "'";
      ASSERT_EQ(m.value(i), v) << "text '" << text << "'";
      if (!first_type && m.key(i) == "type") first_type = v;
    }
    ASSERT_EQ(m.type(), first_type.value_or("")) << "text '" << text << "'";

    // Items and the map guess.
    std::vector<RawField> items;
    stt_scan_items(text, items);
    const auto want_items = ref_scan_items(text);
    ASSERT_EQ(items.size(), want_items.size()) << "items of '" << text << "'";
    for (size_t i = 0; i < items.size(); ++i) {
      ASSERT_EQ(items[i].key_size, 0u);
      ASSERT_EQ(items[i].value_begin, want_items[i].first) << "items of '" << text << "'";
      ASSERT_EQ(items[i].value_size, want_items[i].second) << "items of '" << text << "'";
    }
    ASSERT_EQ(stt_looks_like_map(text), text.find("@=") != std::string::npos) << text;
  }
}

TEST(ReadPathAttackStt, UnescapeInPlaceIsOneLeftToRightPass) {
  Rng rng(5);
  std::vector<std::string> texts = {"@",   "@@", "@AS", "@@A",  "@@S", "@AA", "@AAS",
                                    "@SA", "A@", "@ZA", "@A@S", "@a",  "@s",  "@@@@@@A"};
  for (size_t len : {15, 16, 17, 63, 64, 65, 128}) {
    for (int i = 0; i < 300; ++i) texts.push_back(random_stt(rng, len));
    for (size_t pos = 0; pos + 1 < len; ++pos) {
      std::string t(len, 'x');
      t[pos] = '@';
      t[pos + 1] = (pos % 2) ? 'A' : 'S';
      texts.push_back(t);
      std::string u(len, '@');
      u[pos + 1] = 'S';
      texts.push_back(u);
    }
  }
  for (int i = 0; i < 5000; ++i) {
    std::string s;
    const size_t len = rng.below(100);
    for (size_t j = 0; j < len; ++j) s.push_back(static_cast<char>(rng.below(256)));
    texts.push_back(s);
  }
  for (const auto& t : texts) {
    const std::string want = testing::reference_unescape(t);
    EXPECT_EQ(stt_unescape(t), want) << t;
    std::string buf = t;
    const size_t n = stt_unescape_in_place(buf.data(), buf.size());
    ASSERT_LE(n, t.size());
    EXPECT_EQ(std::string_view(buf.data(), n), want) << t;
    std::string appended = "pre";
    stt_append_unescaped(appended, t);
    EXPECT_EQ(appended, "pre" + want);
    EXPECT_EQ(stt_unescape(stt_escape(t)), t);
  }
}

// peek_type() agrees with type() wherever it answers, and answers for a plain "type@=x/" start.
TEST(ReadPathAttackMessage, PeekTypeAgreesWithTypeOnFuzzedBodies) {
  std::vector<std::string> bodies = {"type@=chatmsg/",
                                     "type@=chatmsg",
                                     "type@=/",
                                     "type@=",
                                     "type@=ch@Aat/",
                                     "type@=a@Sb/",
                                     "type@=a@=b/",
                                     "type@=x@",
                                     "type@=x@Z/",
                                     "type@=x@A",
                                     "type@A=x/",
                                     "typ@Ae@=x/",
                                     "@=type@=x/",
                                     "a@=b/type@=c/",
                                     "type@=a/type@=b/",
                                     "/type@=a/",
                                     "//type@=q/",
                                     "type/type@=a/",
                                     "typex@=a/",
                                     "ttype@=a/",
                                     "Type@=a/",
                                     "type@=@=/",
                                     "type@=@A=/",
                                     "type@=\0x/",
                                     "type @=a/",
                                     "type@==a/",
                                     "type@=a=b/",
                                     "type@=ab@",
                                     "type@=loginres/userid@=1/",
                                     "type@=error/code@=0/"};
  Rng rng(9);
  static const std::vector<std::string> kPieces = {"type", "@=", "/", "@", "A",  "S",  "x",
                                                   "ty",   "pe", "=", "t", "@S", "@A", ""};
  for (int i = 0; i < 50000; ++i) {
    std::string b = rng.below(2) ? "type@=" : "";
    const size_t k = rng.below(8);
    for (size_t j = 0; j < k; ++j) b += kPieces[rng.below(kPieces.size())];
    bodies.push_back(b);
  }
  for (const auto& b : bodies) {
    const auto peek = Message::peek_type(b);
    const Message m{std::string(b)};
    if (peek) {
      ASSERT_EQ(*peek, m.type()) << "body '" << b << "'";
    }
  }
  // Every server message starts "type@=<plain>/": peek must answer.
  SyntheticRoom room(3);
  for (int i = 0; i < 2000; ++i) {
    const std::string b = room.next_body();
    const auto peek = Message::peek_type(b);
    ASSERT_TRUE(peek.has_value()) << b;
    ASSERT_EQ(*peek, Message(b).type()) << b;
  }
  EXPECT_EQ(Message::peek_type("type@=chatmsg/").value_or("<none>"), "chatmsg");
  EXPECT_EQ(Message::peek_type("type@=a/type@=b/").value_or("<none>"), "a");
}

// ================================================================ typed views

std::vector<std::string> member_keys() {
  return {"rid",      "uid",      "nn",        "txt",    "cid",       "ic",   "bnn",
          "brid",     "level",    "col",       "ct",     "nl",        "bl",   "cst",
          "el",       "gfid",     "gfcnt",     "hits",   "bcnt",      "sn",   "dn",
          "gn",       "drid",     "es",        "gc",     "ss",        "code", "rt",
          "notify",   "endtime",  "cnt",       "lev",    "sui",       "sdid", "trid",
          "content",  "unk",      "donk",      "userid", "roomgroup", "pg",   "sessionid",
          "username", "nickname", "live_stat", "tick",   "sum",       "list"};
}

int64_t ref_int(std::optional<std::string_view> v) {
  if (!v || v->empty()) return 0;
  int64_t out = 0;
  const char* end = v->data() + v->size();
  const auto r = std::from_chars(v->data(), end, out);
  return (r.ec != std::errc() || r.ptr != end) ? 0 : out;
}

std::string random_value(Rng& rng) {
  static const std::vector<std::string> kValues = {"",
                                                   "0",
                                                   "5",
                                                   "+5",
                                                   "-0",
                                                   " 5",
                                                   "5 ",
                                                   "-",
                                                   "--1",
                                                   "1e3",
                                                   "0x10",
                                                   "007",
                                                   "12a",
                                                   "abc",
                                                   "99999999999999999999",
                                                   "999999999999999999",
                                                   "-999999999999999999",
                                                   "9223372036854775807",
                                                   "9223372036854775808",
                                                   "-9223372036854775808",
                                                   "-9223372036854775809",
                                                   "18446744073709551616",
                                                   "000000000000000000000000000000042",
                                                   "-000000000000000000001",
                                                   "a/b",
                                                   "x@y",
                                                   "@A",
                                                   "你好",
                                                   "1\n",
                                                   std::string("1\0", 2)};
  if (rng.below(4) == 0) {
    std::string d = rng.below(2) ? "-" : "";
    const size_t n = 1 + rng.below(22);
    for (size_t i = 0; i < n; ++i) d.push_back(static_cast<char>('0' + rng.below(10)));
    return d;
  }
  return kValues[rng.below(kValues.size())];
}

#define EXPECT_TEXT(view, m, field) \
  EXPECT_EQ((view).field, (m).get_or(#field)) << #field << " of '" << (m).encode() << "'"
#define EXPECT_NUM(view, m, field)                                 \
  do {                                                             \
    EXPECT_EQ((view).field, (m).get_int_or(#field, 0))             \
        << #field << " vs get_int of '" << (m).encode() << "'";    \
    EXPECT_EQ((view).field, ref_int((m).get(#field)))              \
        << #field << " vs from_chars of '" << (m).encode() << "'"; \
  } while (0)

template <class T>
const T* holds(const TypedMessage& v, const Message& m) {
  const T* p = std::get_if<T>(&v);
  EXPECT_NE(p, nullptr) << "view of type '" << m.type() << "'";
  return p;
}

void check_view(const Message& m) {
  const TypedMessage v = view(m);
  const std::string_view type = m.type();
  if (type == "chatmsg") {
    if (auto* c = holds<ChatMsg>(v, m)) {
      EXPECT_TEXT(*c, m, rid);
      EXPECT_TEXT(*c, m, uid);
      EXPECT_TEXT(*c, m, nn);
      EXPECT_TEXT(*c, m, txt);
      EXPECT_TEXT(*c, m, cid);
      EXPECT_TEXT(*c, m, ic);
      EXPECT_TEXT(*c, m, bnn);
      EXPECT_TEXT(*c, m, brid);
      EXPECT_TEXT(*c, m, el);
      EXPECT_NUM(*c, m, level);
      EXPECT_NUM(*c, m, col);
      EXPECT_NUM(*c, m, ct);
      EXPECT_NUM(*c, m, nl);
      EXPECT_NUM(*c, m, bl);
      EXPECT_NUM(*c, m, cst);
      EXPECT_EQ(view_as<ChatMsg>(m), *c);
    }
  } else if (type == "uenter") {
    if (auto* c = holds<UserEnter>(v, m)) {
      EXPECT_TEXT(*c, m, rid);
      EXPECT_TEXT(*c, m, uid);
      EXPECT_TEXT(*c, m, nn);
      EXPECT_TEXT(*c, m, ic);
      EXPECT_NUM(*c, m, level);
      EXPECT_NUM(*c, m, nl);
    }
  } else if (type == "dgb") {
    if (auto* c = holds<Gift>(v, m)) {
      EXPECT_TEXT(*c, m, rid);
      EXPECT_TEXT(*c, m, uid);
      EXPECT_TEXT(*c, m, nn);
      EXPECT_TEXT(*c, m, ic);
      EXPECT_TEXT(*c, m, bnn);
      EXPECT_NUM(*c, m, gfid);
      EXPECT_NUM(*c, m, gfcnt);
      EXPECT_NUM(*c, m, hits);
      EXPECT_NUM(*c, m, level);
      EXPECT_NUM(*c, m, bl);
      EXPECT_NUM(*c, m, bcnt);
    }
  } else if (type == "spbc") {
    if (auto* c = holds<GiftBroadcast>(v, m)) {
      EXPECT_TEXT(*c, m, sn);
      EXPECT_TEXT(*c, m, dn);
      EXPECT_TEXT(*c, m, gn);
      EXPECT_TEXT(*c, m, drid);
      EXPECT_TEXT(*c, m, es);
      EXPECT_NUM(*c, m, gc);
      EXPECT_NUM(*c, m, gfid);
    }
  } else if (type == "rss") {
    if (auto* c = holds<RoomStatus>(v, m)) {
      EXPECT_TEXT(*c, m, rid);
      EXPECT_TEXT(*c, m, notify);
      EXPECT_NUM(*c, m, ss);
      EXPECT_NUM(*c, m, code);
      EXPECT_NUM(*c, m, rt);
      EXPECT_NUM(*c, m, endtime);
      EXPECT_EQ(c->live(), c->ss == 1);
    }
  } else if (type == "bc_buy_deserve") {
    if (auto* c = holds<BuyDeserve>(v, m)) {
      EXPECT_TEXT(*c, m, rid);
      EXPECT_TEXT(*c, m, sui);
      EXPECT_NUM(*c, m, level);
      EXPECT_NUM(*c, m, cnt);
      EXPECT_NUM(*c, m, hits);
      EXPECT_NUM(*c, m, lev);
    }
  } else if (type == "ssd") {
    if (auto* c = holds<SuperBarrage>(v, m)) {
      EXPECT_TEXT(*c, m, rid);
      EXPECT_TEXT(*c, m, sdid);
      EXPECT_TEXT(*c, m, trid);
      EXPECT_TEXT(*c, m, content);
    }
  } else if (type == "anbc" || type == "rnewbc") {
    const NobleEvent* c = nullptr;
    if (type == "anbc") c = holds<NobleOpen>(v, m);
    if (type == "rnewbc") c = holds<NobleRenew>(v, m);
    if (c) {
      EXPECT_TEXT(*c, m, uid);
      EXPECT_TEXT(*c, m, unk);
      EXPECT_TEXT(*c, m, drid);
      EXPECT_TEXT(*c, m, donk);
      EXPECT_NUM(*c, m, nl);
    }
  } else if (type == "blab") {
    if (auto* c = holds<BadgeUp>(v, m)) {
      EXPECT_TEXT(*c, m, uid);
      EXPECT_TEXT(*c, m, nn);
      EXPECT_TEXT(*c, m, bnn);
      EXPECT_NUM(*c, m, bl);
    }
  } else if (type == "upgrade") {
    if (auto* c = holds<LevelUp>(v, m)) {
      EXPECT_TEXT(*c, m, uid);
      EXPECT_TEXT(*c, m, nn);
      EXPECT_NUM(*c, m, level);
    }
  } else if (type == "loginres") {
    if (auto* c = holds<LoginResponse>(v, m)) {
      EXPECT_TEXT(*c, m, userid);
      EXPECT_TEXT(*c, m, roomgroup);
      EXPECT_TEXT(*c, m, pg);
      EXPECT_TEXT(*c, m, sessionid);
      EXPECT_TEXT(*c, m, username);
      EXPECT_TEXT(*c, m, nickname);
      EXPECT_NUM(*c, m, live_stat);
    }
  } else if (type == "error") {
    if (auto* c = holds<ServerError>(v, m)) EXPECT_NUM(*c, m, code);
  } else if (type == "pingreq") {
    if (auto* c = holds<PingRequest>(v, m)) EXPECT_NUM(*c, m, tick);
  } else if (type == "mrkl") {
    holds<Heartbeat>(v, m);
  } else if (RankList::is_rank_type(type)) {
    if (auto* c = holds<RankList>(v, m)) {
      EXPECT_EQ(c->type, type);
      EXPECT_NUM(*c, m, sum);
      EXPECT_EQ(c->list_text, m.get_or("list"));
      EXPECT_EQ(c->entries(), m.get_map_list("list"));
      EXPECT_EQ(c->entry_count(), c->entries().size());
    }
  } else {
    if (auto* g = holds<GenericMessage>(v, m)) {
      EXPECT_EQ(g->message, &m);
    }
  }
}

// Random messages of every view type: keys from every table, keys that share a view key's
// length, first and last byte (the perfect hash's code), repeated keys and a repeated "type",
// bare items, and integers of every odd shape. Each member must equal Message::get_or /
// get_int_or (the first occurrence, the documented integer rule).
TEST(ReadPathAttackTyped, ViewsMatchPerMemberGetOnRandomMessages) {
  const std::vector<std::string> types = {"chatmsg",
                                          "uenter",
                                          "dgb",
                                          "spbc",
                                          "rss",
                                          "bc_buy_deserve",
                                          "ssd",
                                          "anbc",
                                          "rnewbc",
                                          "blab",
                                          "upgrade",
                                          "loginres",
                                          "error",
                                          "pingreq",
                                          "mrkl",
                                          "frank",
                                          "noble_num_info",
                                          "unknownx"};
  std::vector<std::string> keys = member_keys();
  for (const auto& k : member_keys()) {
    if (k.size() >= 3) {
      std::string c = k;
      c[1] = c[1] == 'x' ? 'y' : 'x';  // same code (length, first, last), different key
      keys.push_back(c);
      std::string d = k;
      d[d.size() - 2] = '_';
      keys.push_back(d);
    }
    keys.push_back(k + "x");
    keys.push_back(k.substr(0, k.size() - 1));
  }
  keys.push_back("type");
  keys.push_back(std::string(32, 'r'));
  Rng rng(2024);
  for (int i = 0; i < 6000; ++i) {
    SttWriter w;
    const std::string& type = types[rng.below(types.size())];
    const bool type_first = rng.below(4) != 0;
    if (type_first) w.add("type", type);
    const size_t n = rng.below(30);
    bool type_added = type_first;
    for (size_t f = 0; f < n; ++f) {
      if (!type_added && rng.below(n) == 0) {
        w.add("type", type);
        type_added = true;
      }
      if (rng.below(15) == 0) {
        w.add_item(random_value(rng));
        continue;
      }
      w.add(keys[rng.below(keys.size())], random_value(rng));
    }
    if (!type_added) w.add("type", type);
    const Message m(w.str());
    SCOPED_TRACE(w.str());
    check_view(m);
    if (HasFailure()) return;
  }
}

TEST(ReadPathAttackTyped, IntegerRuleOnOddShapes) {
  struct Case {
    std::string value;
    int64_t want;
  };
  const std::vector<Case> cases = {{"", 0},
                                   {"5", 5},
                                   {"+5", 0},
                                   {"-0", 0},
                                   {" 5", 0},
                                   {"5 ", 0},
                                   {"-", 0},
                                   {"007", 7},
                                   {"99999999999999999999", 0},
                                   {"999999999999999999", 999999999999999999},
                                   {"-999999999999999999", -999999999999999999},
                                   {"9223372036854775807", INT64_MAX},
                                   {"9223372036854775808", 0},
                                   {"-9223372036854775808", INT64_MIN},
                                   {"-9223372036854775809", 0},
                                   {"000000000000000000000000000000042", 42},
                                   {"-000000000000000000001", -1},
                                   {"1e3", 0},
                                   {"12a", 0},
                                   {std::string("1\0", 2), 0},
                                   {"\xd9\xa1", 0}};
  for (const auto& c : cases) {
    EXPECT_EQ(typed_field_int(c.value), c.want) << "'" << c.value << "'";
    const Message m("type@=chatmsg/level@=" + stt_escape(c.value) + "/level@=77/");
    EXPECT_EQ(m.get_int_or("level", 0), c.want) << "'" << c.value << "'";
    EXPECT_EQ(ChatMsg::from(m).level, c.want) << "'" << c.value << "' (first occurrence wins)";
    EXPECT_EQ(ref_int(c.value), c.want) << "'" << c.value << "'";
  }
}

// ================================================================ JSON

// WHATWG / Unicode "maximal subpart" decoder: the expected text of a JSON string made from bytes.
std::u32string decode_replacing(std::string_view s) {
  std::u32string out;
  uint32_t cp = 0;
  int needed = 0, seen = 0;
  unsigned lower = 0x80, upper = 0xBF;
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned b = static_cast<unsigned char>(s[i]);
    if (needed == 0) {
      if (b <= 0x7F) {
        out.push_back(b);
      } else if (b >= 0xC2 && b <= 0xDF) {
        needed = 1;
        cp = b & 0x1F;
      } else if (b >= 0xE0 && b <= 0xEF) {
        if (b == 0xE0) lower = 0xA0;
        if (b == 0xED) upper = 0x9F;
        needed = 2;
        cp = b & 0xF;
      } else if (b >= 0xF0 && b <= 0xF4) {
        if (b == 0xF0) lower = 0x90;
        if (b == 0xF4) upper = 0x8F;
        needed = 3;
        cp = b & 0x7;
      } else {
        out.push_back(0xFFFD);
      }
      continue;
    }
    if (b < lower || b > upper) {
      cp = 0;
      needed = seen = 0;
      lower = 0x80;
      upper = 0xBF;
      out.push_back(0xFFFD);
      --i;  // reprocess
      continue;
    }
    lower = 0x80;
    upper = 0xBF;
    cp = (cp << 6) | (b & 0x3F);
    if (++seen == needed) {
      out.push_back(cp);
      cp = 0;
      needed = seen = 0;
    }
  }
  if (needed != 0) out.push_back(0xFFFD);
  return out;
}

bool is_terminal_control(uint32_t c) {
  return c < 0x20 || c == 0x7F || (c >= 0x80 && c <= 0x9F) || (c >= 0x202A && c <= 0x202E) ||
         (c >= 0x2066 && c <= 0x2069);
}

// A strict JSON reader (RFC 8259), strings decoded to code points; raw bytes must be well-formed
// UTF-8 and no terminal control may appear unescaped (json.h's promise).
class JsonReader {
 public:
  explicit JsonReader(std::string_view s) : s_(s) {}
  std::string error;

  bool whole_object(std::vector<std::pair<std::u32string, std::u32string>>* members) {
    ws();
    if (!object(members)) return false;
    ws();
    return at_end() || fail("trailing bytes");
  }
  bool whole_value() {
    ws();
    if (!value()) return false;
    ws();
    return at_end() || fail("trailing bytes");
  }
  bool whole_string(std::u32string* out) {
    if (!string(out)) return false;
    return at_end() || fail("trailing bytes");
  }

 private:
  bool at_end() const { return i_ == s_.size(); }
  bool fail(const std::string& why) {
    if (error.empty()) error = why + " at byte " + std::to_string(i_);
    return false;
  }
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
      ++i_;
  }
  bool lit(std::string_view w) {
    if (s_.substr(i_, w.size()) != w) return fail("bad literal");
    i_ += w.size();
    return true;
  }
  bool value() {
    ws();
    if (at_end()) return fail("value expected");
    const char c = s_[i_];
    if (c == '{') return object(nullptr);
    if (c == '[') {
      ++i_;
      ws();
      if (i_ < s_.size() && s_[i_] == ']') return ++i_, true;
      for (;;) {
        if (!value()) return false;
        ws();
        if (at_end()) return fail("unterminated array");
        if (s_[i_] == ']') return ++i_, true;
        if (s_[i_] != ',') return fail("',' expected");
        ++i_;
      }
    }
    if (c == '"') {
      std::u32string t;
      return string(&t);
    }
    if (c == 't') return lit("true");
    if (c == 'f') return lit("false");
    if (c == 'n') return lit("null");
    return fail("unexpected byte");
  }
  bool object(std::vector<std::pair<std::u32string, std::u32string>>* members) {
    if (at_end() || s_[i_] != '{') return fail("'{' expected");
    ++i_;
    ws();
    if (i_ < s_.size() && s_[i_] == '}') return ++i_, true;
    for (;;) {
      ws();
      std::u32string name;
      if (!string(&name)) return false;
      ws();
      if (at_end() || s_[i_] != ':') return fail("':' expected");
      ++i_;
      ws();
      if (members) {
        std::u32string v;
        if (at_end() || s_[i_] != '"') return fail("string value expected");
        if (!string(&v)) return false;
        members->emplace_back(std::move(name), std::move(v));
      } else if (!value()) {
        return false;
      }
      ws();
      if (at_end()) return fail("unterminated object");
      if (s_[i_] == '}') return ++i_, true;
      if (s_[i_] != ',') return fail("',' expected");
      ++i_;
    }
  }
  int hex4() {
    if (i_ + 4 > s_.size()) return -1;
    int v = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = s_[i_ + k];
      v <<= 4;
      if (c >= '0' && c <= '9') {
        v |= c - '0';
      } else if (c >= 'a' && c <= 'f') {
        v |= c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        v |= c - 'A' + 10;
      } else {
        return -1;
      }
    }
    i_ += 4;
    return v;
  }
  bool string(std::u32string* out) {
    if (at_end() || s_[i_] != '"') return fail("'\"' expected");
    ++i_;
    for (;;) {
      if (at_end()) return fail("unterminated string");
      const unsigned b = static_cast<unsigned char>(s_[i_]);
      if (b == '"') return ++i_, true;
      if (b < 0x20) return fail("raw control byte in string");
      if (b == '\\') {
        ++i_;
        if (at_end()) return fail("dangling backslash");
        const char e = s_[i_++];
        switch (e) {
          case '"':
            out->push_back('"');
            break;
          case '\\':
            out->push_back('\\');
            break;
          case '/':
            out->push_back('/');
            break;
          case 'b':
            out->push_back('\b');
            break;
          case 'f':
            out->push_back('\f');
            break;
          case 'n':
            out->push_back('\n');
            break;
          case 'r':
            out->push_back('\r');
            break;
          case 't':
            out->push_back('\t');
            break;
          case 'u': {
            int u = hex4();
            if (u < 0) return fail("bad \\u");
            if (u >= 0xDC00 && u <= 0xDFFF) return fail("lone low surrogate");
            if (u >= 0xD800 && u <= 0xDBFF) {
              if (i_ + 2 > s_.size() || s_[i_] != '\\' || s_[i_ + 1] != 'u')
                return fail("lone high surrogate");
              i_ += 2;
              const int lo = hex4();
              if (lo < 0xDC00 || lo > 0xDFFF) return fail("bad low surrogate");
              u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
            }
            out->push_back(static_cast<uint32_t>(u));
            break;
          }
          default:
            return fail("bad escape");
        }
        continue;
      }
      // Raw UTF-8: must be well-formed, and no terminal control unescaped.
      size_t len = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
      if (i_ + len > s_.size()) return fail("truncated UTF-8");
      const std::u32string exact = decode_replacing(s_.substr(i_, len));
      if (exact.size() != 1 || (exact[0] == 0xFFFD && s_.substr(i_, len) != "\xEF\xBF\xBD"))
        return fail("ill-formed UTF-8");
      if (is_terminal_control(exact[0])) return fail("raw terminal control");
      out->push_back(exact[0]);
      i_ += len;
    }
  }

  std::string_view s_;
  size_t i_ = 0;
};

std::string random_bytes(Rng& rng, size_t max_len) {
  static const std::vector<std::string> kNasty = {"\xC2\x85",
                                                  "\xC2\x9F",
                                                  "\xE2\x80\xAE",
                                                  "\xE2\x81\xA6",
                                                  "\x7F",
                                                  "\x1B[31m",
                                                  "\xED\xA0\x80",
                                                  "\xF4\x90\x80\x80",
                                                  "\xF0\x9F\x98",
                                                  "\xE0\x80",
                                                  "\xC0\xAF",
                                                  "\xFF",
                                                  "\"",
                                                  "\\",
                                                  "\\u0000",
                                                  "\n",
                                                  std::string(1, '\0'),
                                                  "\xF0\x9F\x98\x80",
                                                  "\xEF\xBF\xBD",
                                                  "\xE2\x80\xA8",
                                                  "@S",
                                                  "@A",
                                                  "/"};
  std::string s;
  const size_t len = rng.below(max_len + 1);
  while (s.size() < len) {
    if (rng.below(3) == 0) {
      s += kNasty[rng.below(kNasty.size())];
    } else {
      s.push_back(static_cast<char>(rng.below(256)));
    }
  }
  return s;
}

TEST(ReadPathAttackJson, QuotedRandomBytesAreValidJsonAndDecodeAsUnicodeRecommends) {
  Rng rng(77);
  for (int i = 0; i < 20000; ++i) {
    const std::string text = random_bytes(rng, 40);
    const std::string q = json_quote(text);
    JsonReader r(q);
    std::u32string got;
    ASSERT_TRUE(r.whole_string(&got))
        << r.error << " in " << testing::to_hex(q) << " from " << testing::to_hex(text);
    ASSERT_TRUE(got == decode_replacing(text))
        << "from " << testing::to_hex(text) << " got " << testing::to_hex(q);
    std::string appended = "x";
    json_append_string(appended, text);
    ASSERT_EQ(appended, "x" + q);
  }
}

// Every Message becomes one valid JSON object: members in wire order, a repeated key once with
// its first value, texts as Unicode recommends for ill-formed bytes.
TEST(ReadPathAttackJson, MessagesOfRandomBytesAreValidJsonObjectsFirstValueWins) {
  Rng rng(78);
  for (int i = 0; i < 5000; ++i) {
    std::string body;
    if (rng.below(3) == 0) {
      body = random_bytes(rng, 120);  // raw bytes as a body: whatever it decodes to
    } else {
      SttWriter w;
      const size_t n = rng.below(8);
      for (size_t f = 0; f < n; ++f) {
        const std::string key =
            rng.below(3) == 0 ? std::string(1, "abt"[rng.below(3)]) : random_bytes(rng, 6);
        w.add(key, random_bytes(rng, 20));
      }
      body = std::move(w).str();
    }
    const Message m(body);
    const std::string json = to_json(m);
    std::vector<std::pair<std::u32string, std::u32string>> members;
    JsonReader r(json);
    ASSERT_TRUE(r.whole_object(&members)) << r.error << " in " << testing::to_hex(json);
    // Deduplicated by the JSON name: two keys that differ on the wire only in ill-formed bytes
    // both become U+FFFD...; a JSON object with a repeated name is what json.h avoids.
    std::vector<std::pair<std::u32string, std::u32string>> want;
    for (auto [k, v] : m.fields()) {
      const std::u32string name = decode_replacing(k);
      if (std::any_of(want.begin(), want.end(), [&](const auto& p) { return p.first == name; }))
        continue;
      want.emplace_back(name, decode_replacing(v));
    }
    ASSERT_EQ(members.size(), want.size()) << testing::to_hex(body);
    for (size_t j = 0; j < want.size(); ++j) {
      ASSERT_TRUE(members[j] == want[j]) << "member " << j << " of " << testing::to_hex(body);
    }
    std::string appended = "[";
    json_append_message(appended, m);
    ASSERT_EQ(appended, "[" + json);
  }
}

TEST(ReadPathAttackJson, SttValueTreesOfRandomTextAreValidJson) {
  Rng rng(79);
  for (int i = 0; i < 5000; ++i) {
    const std::string text = rng.below(2) ? random_stt(rng, rng.below(80)) : random_bytes(rng, 60);
    const std::string json = to_json(stt_decode_value(text));
    JsonReader r(json);
    ASSERT_TRUE(r.whole_value()) << r.error << " in " << json << " from " << testing::to_hex(text);
  }
}

// ================================================================ DouyuClient end to end

struct Flood {
  explicit Flood(Loop& loop, uint64_t n)
      : server(make_dispatcher<DouyuServer>(loop, Address::ipv4_loopback(0),
                                            SimulatorOptions{.rate = 0, .flood = n})) {}
  std::shared_ptr<DouyuServer> server;
};

void flood_with_marks(size_t high_water, size_t high_water_bytes) {
  constexpr uint64_t kN = 20000;
  Loop loop;
  Flood sim(loop, kN);
  Collector got;
  std::atomic<size_t> max_queued{0};
  DouyuClient* self = nullptr;
  auto options = options_for(*sim.server);
  options.receive_high_water = high_water;
  options.receive_high_water_bytes = high_water_bytes;
  DouyuClient client(loop, options, [&](const Message& m) {
    got(m);
    const size_t q = self->queued_messages();
    if (q > max_queued) max_queued = q;
  });
  self = &client;
  client.start();
  ASSERT_TRUE(run_until(
      loop, [&] { return got.room_messages() == kN; }, 30))
      << "got " << got.room_messages() << " of " << kN;
  EXPECT_TRUE(is_one_to_n(got.seqs(), kN));
  EXPECT_EQ(client.reconnects(), 0u);
  EXPECT_LT(max_queued.load(), size_t{1} << 40) << "queued_messages() underflowed";
  client.stop();
  ASSERT_TRUE(run_until(loop, [&] { return client.stopped(); }));
  client.join();
  EXPECT_EQ(client.delivered(), client.frames_received());
  EXPECT_EQ(client.discarded(), 0u);
  EXPECT_EQ(client.queued_messages(), 0u);
  EXPECT_EQ(client.queued_bytes(), 0u);
}

TEST(ReadPathAttackClient, FloodExactlyOnceInOrderWithHighWaterOneAndByteMarkOne) {
  flood_with_marks(1, 1);
}
TEST(ReadPathAttackClient, FloodExactlyOnceInOrderWithHighWaterTwo) {
  flood_with_marks(2, 1 << 20);
}

TEST(ReadPathAttackClient, CallbackThatStoresCopiesGetsIndependentMessages) {
  constexpr uint64_t kN = 2000;
  Loop loop;
  Flood sim(loop, kN);
  std::mutex mutex;
  std::vector<Message> copies;
  std::vector<std::string> encoded;
  auto options = options_for(*sim.server);
  options.receive_high_water = 16;
  DouyuClient client(loop, options, [&](const Message& m) {
    std::lock_guard lock(mutex);
    copies.push_back(m);
    encoded.push_back(m.encode());
  });
  client.start();
  ASSERT_TRUE(run_until(
      loop,
      [&] {
        std::lock_guard lock(mutex);
        return !copies.empty() && seq_of(copies.back()) == kN;
      },
      30));
  client.stop();
  ASSERT_TRUE(run_until(loop, [&] { return client.stopped(); }));
  client.join();
  std::lock_guard lock(mutex);
  uint64_t expect = 1;
  for (size_t i = 0; i < copies.size(); ++i) {
    ASSERT_EQ(copies[i].encode(), encoded[i]) << "copy " << i << " changed after the call";
    const Message again(encoded[i]);
    ASSERT_EQ(copies[i].type(), again.type());
    ASSERT_EQ(copies[i].size(), again.size());
    if (copies[i].has("seq")) {
      ASSERT_EQ(seq_of(copies[i]), expect) << i;
      ++expect;
    }
  }
  EXPECT_EQ(expect, kN + 1);
}

// stop() from inside the callback mid-flood: delivery stops at a prefix, nothing twice; with
// deliver_pending_on_stop every frame read is delivered, without it every frame read is either
// delivered or discarded.
void stop_from_callback(bool deliver_pending) {
  constexpr uint64_t kN = 20000, kStopAt = 700;
  Loop loop;
  Flood sim(loop, kN);
  Collector got;
  DouyuClient* self = nullptr;
  std::atomic<int> stops{0};
  auto options = options_for(*sim.server);
  options.receive_high_water = 256;
  options.deliver_pending_on_stop = deliver_pending;
  DouyuClient client(loop, options, [&](const Message& m) {
    got(m);
    if (seq_of(m) == kStopAt) {
      self->stop();
      self->stop();
      ++stops;
    }
  });
  self = &client;
  client.start();
  ASSERT_TRUE(run_until(
      loop, [&] { return client.stopped(); }, 30));
  client.join();
  EXPECT_EQ(stops.load(), 1);
  const auto seqs = got.seqs();
  EXPECT_TRUE(is_prefix(seqs));
  EXPECT_GE(seqs.size(), kStopAt);
  if (deliver_pending) {
    EXPECT_EQ(client.delivered(), client.frames_received());
    EXPECT_EQ(client.discarded(), 0u);
  } else {
    EXPECT_EQ(client.delivered() + client.discarded(), client.frames_received());
  }
  EXPECT_EQ(client.queued_messages(), 0u);
}

TEST(ReadPathAttackClient, StopFromTheCallbackMidFloodDeliveringPending) {
  stop_from_callback(true);
}
TEST(ReadPathAttackClient, StopFromTheCallbackMidFloodDiscardingPending) {
  stop_from_callback(false);
}

// Many threads call stop() at once during a flood; then join() from two threads.
TEST(ReadPathAttackClient, ConcurrentStopsAndJoinsFromOtherThreadsMidFlood) {
  constexpr uint64_t kN = 20000;
  Loop loop;
  Flood sim(loop, kN);
  Collector got;
  auto options = options_for(*sim.server);
  options.receive_high_water = 8;
  DouyuClient client(loop, options, got.callback());
  client.start();
  ASSERT_TRUE(run_until(
      loop, [&] { return got.room_messages() >= 500; }, 20));
  std::vector<std::thread> threads;
  std::atomic<int> joined{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      client.stop();
      client.join();
      ++joined;
    });
  }
  ASSERT_TRUE(run_until(
      loop, [&] { return client.stopped() && joined.load() == 4; }, 20));
  for (auto& t : threads) t.join();
  client.join();
  EXPECT_TRUE(is_prefix(got.seqs()));
  EXPECT_EQ(client.delivered(), client.frames_received());
}

// After the client stopped and was joined, a thread that happens to reuse the ended worker
// thread's id calls join(): it must return (the client has stopped), not throw the "inside the
// callback" std::logic_error.
// Regression: at a4a4e21 (stale worker id, see
// ReadPathAttackWorker.OnWorkerThreadIsFalseOnANewThreadThatReusesTheWorkersId) join() from a
// thread started after the client stopped threw "DouyuClient::join() called from the message
// callback" (8 of 8 threads) instead of returning. Fixed in dd13421.
TEST(ReadPathAttackClient, JoinFromANewThreadThatReusesTheEndedWorkersIdDoesNotThrow) {
  Loop loop;
  Flood sim(loop, 10);
  std::mutex mutex;
  std::thread::id worker_id;
  Collector got;
  DouyuClient client(loop, options_for(*sim.server), [&](const Message& m) {
    got(m);
    std::lock_guard lock(mutex);
    worker_id = std::this_thread::get_id();
  });
  client.start();
  ASSERT_TRUE(run_until(
      loop, [&] { return got.room_messages() == 10; }, 20));
  client.stop();
  ASSERT_TRUE(run_until(loop, [&] { return client.stopped(); }));
  client.join();
  std::thread::id id;
  {
    std::lock_guard lock(mutex);
    id = worker_id;
  }
  int reused = 0, threw = 0;
  for (int t = 0; t < 8; ++t) {
    std::thread([&] {
      if (std::this_thread::get_id() != id) return;
      ++reused;
      try {
        client.join();
      } catch (const std::logic_error& e) {
        ++threw;
        ADD_FAILURE() << "join() threw: " << e.what();
      }
    }).join();
  }
  if (reused == 0) GTEST_SKIP() << "no thread id was reused here";
  EXPECT_EQ(threw, 0);
}

// The loop thread acts on loginres and error found with peek_type() "without decoding"; where
// peek_type() cannot answer (type not first, no final '/', an empty item first) the session must
// still decode and act: PROTOCOL.md says `type` is not always first.
TEST(ReadPathAttackClient, ServerErrorIsActedOnWhereverItsTypeField) {
  const std::vector<std::string> errors = {
      "rid@=9999/type@=error/code@=52/", "type@=error/code@=52", "/type@=error/code@=52/",
      "type@=error/code@=52/type@=chatmsg/", "code@=52/type@=error/"};
  for (const auto& body : errors) {
    SCOPED_TRACE(body);
    Loop loop;
    RawServer server(loop, [&](int) {
      return Script{kLoginRes + server_frame(body) + chat(1), Script::kKeepOpen};
    });
    Collector got;
    auto options = options_for_port(server.port());
    options.reconnect = false;
    DouyuClient client(loop, options, got.callback());
    client.start();
    ASSERT_TRUE(run_until(
        loop, [&] { return client.stopped(); }, 10));
    EXPECT_NE(client.failure(), "");
    client.join();  // the worker delivers what was queued before it ends
    EXPECT_EQ(got.count("error"), 1u) << "the error message itself is delivered too";
  }
}

// A client (reconnect off) against a server that sends `frames` then keeps the connection open,
// run until the first chat message reached the callback: the frames before it were all read.
// `check` then looks at the client and at what the server got; the client is stopped after it.
void until_first_chat(const std::string& frames,
                      const std::function<void(const DouyuClient&, const RawState&)>& check) {
  Loop loop;
  RawServer server(loop, [&](int) { return Script{frames, Script::kKeepOpen}; });
  Collector got;
  auto options = options_for_port(server.port());
  options.reconnect = false;
  DouyuClient client(loop, options, got.callback());
  client.start();
  ASSERT_TRUE(run_until(
      loop, [&] { return got.room_messages() == 1 || client.stopped(); }, 10));
  EXPECT_EQ(client.failure(), "");
  check(client, *server.state);
  client.stop();
  ASSERT_TRUE(run_until(loop, [&] { return client.stopped(); }));
  client.join();
}

TEST(ReadPathAttackClient, AFirstTypeThatIsNotErrorIsNotAnError) {
  until_first_chat(kLoginRes + server_frame("type@=chatmsg/type@=error/code@=52/") + chat(1),
                   [](const DouyuClient& client, const RawState&) {
                     EXPECT_EQ(client.state(), DouyuClient::State::kJoined);
                   });
}

TEST(ReadPathAttackClient, LoginResWhoseTypeIsNotFirstStillJoins) {
  for (const std::string body :
       {"userid@=1/type@=loginres/", "type@=loginres", "/type@=loginres/roomgroup@=0/"}) {
    SCOPED_TRACE(body);
    Loop loop;
    RawServer server(loop, [&](int) {
      return Script{server_frame(body) + chat(1), Script::kKeepOpen};
    });
    Collector got;
    auto options = options_for_port(server.port());
    options.reconnect = false;
    DouyuClient client(loop, options, got.callback());
    client.start();
    ASSERT_TRUE(run_until(
        loop, [&] { return client.state() == DouyuClient::State::kJoined || client.stopped(); },
        10));
    EXPECT_EQ(client.state(), DouyuClient::State::kJoined);
    ASSERT_TRUE(run_until(
        loop, [&] { return server.state->requests.size() >= 2; }, 10));
    EXPECT_EQ(server.state->requests[1], "joingroup");
    client.stop();
    ASSERT_TRUE(run_until(loop, [&] { return client.stopped(); }));
    client.join();
  }
}

// Types that only look like loginres or error as they lie (a second "@=", a longer name, an
// escape: their decoded type is another) are not acted on: the session is still logging in when
// the chat message behind them reaches the callback, and sent nothing but loginreq.
TEST(ReadPathAttackClient, LookAlikesOfSessionTypesAreNotActedOn) {
  std::string frames;
  for (const std::string body :
       {"type@=loginres@=x/", "type@=loginresx/", "type@=log@Ainres/", "type@=loginre",
        "type@=error@=0/code@=1/", "type@=errors/code@=1/", "type@=err@Sor/code@=1/"}) {
    frames += server_frame(body);
  }
  until_first_chat(frames + chat(1), [](const DouyuClient& client, const RawState& server) {
    EXPECT_EQ(client.state(), DouyuClient::State::kLoggingIn);
    ASSERT_EQ(server.requests.size(), 1u);
    EXPECT_EQ(server.requests[0], "loginreq");
  });
}

// Destroying a running client while its worker is inside a slow callback: the destructor waits
// for that call, delivers or drops the rest, and no callback runs after it returned.
TEST(ReadPathAttackClient, DestroyWhileTheWorkerIsInASlowCallback) {
  constexpr uint64_t kN = 20000;
  Loop loop;
  Flood sim(loop, kN);
  Collector got;
  std::atomic<bool> in_slow{false}, destroyed{false};
  std::atomic<int> after_destroy{0};
  std::mutex mutex;
  std::condition_variable cv;
  auto options = options_for(*sim.server);
  options.receive_high_water = 64;
  auto client = std::make_unique<DouyuClient>(loop, options, [&](const Message& m) {
    if (destroyed) ++after_destroy;
    got(m);
    if (seq_of(m) == 300) {
      in_slow = true;
      std::unique_lock lock(mutex);  // a slow consumer: 300 ms, nobody wakes it
      cv.wait_for(lock, std::chrono::milliseconds(300), [] { return false; });
    }
  });
  client->start();
  ASSERT_TRUE(run_until(
      loop, [&] { return in_slow.load(); }, 20));
  const auto t0 = Clock::now();
  client.reset();
  destroyed = true;
  const auto took = Clock::now() - t0;
  EXPECT_LT(took, std::chrono::seconds(5));
  EXPECT_EQ(after_destroy.load(), 0);
  const auto seqs = got.seqs();
  EXPECT_TRUE(is_prefix(seqs));
  EXPECT_GE(seqs.size(), 300u);
  // The loop goes on (the server sees the client gone).
  ASSERT_TRUE(run_until(
      loop, [&] { return sim.server->open_connections() == 0; }, 10));
}

// A callback that throws on every message (docs/RELIABILITY.md): later messages are still
// delivered, in order, and the session is undisturbed.
TEST(ReadPathAttackClient, CallbackThatThrowsOnEveryMessage) {
  constexpr uint64_t kN = 300;
  Loop loop;
  Flood sim(loop, kN);
  Collector got;
  auto options = options_for(*sim.server);
  options.receive_high_water = 2;
  options.receive_high_water_bytes = 1;
  DouyuClient client(loop, options, [&](const Message& m) {
    got(m);
    if (m.has("seq")) throw std::runtime_error("attack: every message throws");
    throw 42;  // not even a std::exception
  });
  client.start();
  ASSERT_TRUE(run_until(
      loop, [&] { return got.room_messages() == kN; }, 30));
  EXPECT_TRUE(is_one_to_n(got.seqs(), kN));
  EXPECT_EQ(client.reconnects(), 0u);
  EXPECT_EQ(client.state(), DouyuClient::State::kJoined);
  client.stop();
  ASSERT_TRUE(run_until(loop, [&] { return client.stopped(); }));
  client.join();
}

}  // namespace
}  // namespace asyncore::douyu::test

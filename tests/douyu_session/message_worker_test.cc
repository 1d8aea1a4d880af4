// MessageWorker on its own: the pause/drain handshake between the reading thread and the worker,
// and the byte bound.
#include "douyu/client/message_worker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "douyu/protocol/frame_batch.h"

namespace asyncore::douyu::test {
namespace {

// The producer pauses at the high-water mark and waits for on_drained; the worker drains. Each
// side does a store then a load of the other side's variable: with only release/acquire both
// loads may miss the other store (the producer sees "still full", the worker sees "not paused")
// and the drain notification is lost — the producer then waits forever. Thousands of cycles,
// each with a deadline.
TEST(MessageWorker, TheDrainNotificationIsNeverLost) {
  std::mutex mutex;
  std::condition_variable cv;
  uint64_t drains = 0;
  MessageWorker worker(
      4, 0, [](const Message&) {},
      [&] {
        std::lock_guard lock(mutex);
        ++drains;
        cv.notify_all();
      });
  FrameBatch batch;
  constexpr int kCycles = 5000;
  int lost = 0;
  for (int cycle = 0; cycle < kCycles && lost == 0; ++cycle) {
    for (;;) {
      batch.add("type@=chatmsg/");
      worker.push(batch);
      uint64_t seen;
      {
        std::lock_guard lock(mutex);
        seen = drains;
      }
      if (!worker.should_pause()) continue;
      std::unique_lock lock(mutex);
      if (!cv.wait_for(lock, std::chrono::seconds(5), [&] { return drains != seen; })) ++lost;
      break;
    }
  }
  EXPECT_EQ(lost, 0) << "a drain notification was lost";
  worker.stop(true);
  worker.join();
}

TEST(MessageWorker, PausesAtTheByteMarkAndCountsBytesBackToZero) {
  std::mutex mutex;
  std::condition_variable cv;
  bool go = false;
  MessageWorker worker(
      1000, 64 * 1024,
      [&](const Message&) {
        std::unique_lock lock(mutex);
        cv.wait_for(lock, std::chrono::seconds(20), [&] { return go; });
      },
      [] {});
  auto body = [](size_t size) { return "type@=chatmsg/txt@=" + std::string(size, 'x') + "/"; };
  FrameBatch batch;
  batch.add(body(40 * 1024));
  worker.push(batch);
  EXPECT_TRUE(batch.empty());
  EXPECT_FALSE(worker.should_pause());  // 1 message, ~40 KiB: below both marks
  batch.add(body(40 * 1024));
  worker.push(batch);
  EXPECT_GE(worker.pending_bytes(), 80u * 1024);
  EXPECT_EQ(worker.pending(), 2u);
  EXPECT_TRUE(worker.should_pause());  // 2 messages, above 64 KiB
  {
    std::lock_guard lock(mutex);
    go = true;
  }
  cv.notify_all();
  worker.stop(true);
  worker.join();
  EXPECT_EQ(worker.delivered(), 2u);
  EXPECT_EQ(worker.pending(), 0u);
  EXPECT_EQ(worker.pending_bytes(), 0u);
}

// Many batches of several frames: every message decoded on the worker, delivered once, in order,
// and the batch handed back empty every time.
TEST(MessageWorker, DecodesEveryBatchInOrder) {
  std::vector<std::string> seen;
  std::mutex mutex;
  MessageWorker worker(
      1 << 20, 0,
      [&](const Message& m) {
        std::lock_guard lock(mutex);
        seen.push_back(std::string(m.type()) + ":" + std::string(m.get_or("n")));
      },
      [] {});
  FrameBatch batch;
  std::vector<std::string> expected;
  for (int b = 0; b < 500; ++b) {
    for (int k = 0; k <= b % 7; ++k) {
      const std::string n = std::to_string(expected.size());
      batch.add("type@=t" + std::to_string(k) + "/n@=" + n + "/");
      expected.push_back("t" + std::to_string(k) + ":" + n);
    }
    worker.push(batch);
    ASSERT_TRUE(batch.empty());
  }
  worker.stop(true);
  worker.join();
  EXPECT_EQ(seen, expected);
  EXPECT_EQ(worker.delivered(), expected.size());
  EXPECT_EQ(worker.pending(), 0u);
  EXPECT_EQ(worker.pending_bytes(), 0u);
}

// Batches the reader left unscanned are lent body by body, undecoded: a callback that reads only
// the type (a filter) decodes nothing, one that reads fields or copies the Message decodes that
// body. Whatever each callback reads, every Message is what an owning decode of its body gives,
// in order; escapes at every place, a body without a leading type, hostile sizes (the worker's
// scratch grows for one and is given back).
TEST(MessageWorker, LendsUnscannedBodiesUndecodedAndEachReadsRight) {
  std::vector<std::string> bodies;
  for (int i = 0; i < 3000; ++i) {
    const std::string n = std::to_string(i);
    switch (i % 6) {
      case 0:
        bodies.push_back("type@=chatmsg/n@=" + n + "/ic@=a@Sb@Sc.jpg/txt@=x@Ay/");
        break;
      case 1:
        bodies.push_back("n@=" + n + "/type@=late/");
        break;  // decoded when lent
      case 2:
        bodies.push_back("type@=dgb/n@=" + n + "/list@=a@AS1@AS/");
        break;
      case 3:
        bodies.push_back("type@=t/n@=" + n + "/" + std::string(i % 50, 'k') + "@=v/");
        break;
      case 4: {
        std::string many = "type@=many/n@=" + n + "/";
        for (int f = 0; f < 2000; ++f) many += "f@=1/";  // past what the scratch keeps
        bodies.push_back(many);
        break;
      }
      default:
        bodies.push_back("type@=u@Sv/n@=" + n + "/");
        break;  // an escaped type
    }
  }
  std::vector<Message> copies;
  std::vector<std::string> types;
  MessageWorker worker(
      1 << 20, 0,
      [&](const Message& m) {
        const size_t i = types.size();
        types.emplace_back(m.type());
        if (i % 3 == 1) copies.push_back(m);                           // a copy decodes and owns
        if (i % 3 == 2) copies.emplace_back(std::string(m.encode()));  // reads every field
      },
      [] {});
  FrameBatch batch;
  for (size_t i = 0; i < bodies.size(); ++i) {
    batch.add_unscanned(bodies[i]);
    if (i % 7 == 6 || i + 1 == bodies.size()) worker.push(batch);
  }
  worker.stop(true);
  worker.join();
  ASSERT_EQ(types.size(), bodies.size());
  size_t c = 0;
  for (size_t i = 0; i < bodies.size(); ++i) {
    const Message owning(bodies[i]);
    ASSERT_EQ(types[i], owning.type()) << bodies[i];
    if (i % 3 == 0) continue;
    ASSERT_LT(c, copies.size());
    const Message& got = copies[c++];
    ASSERT_EQ(got.size(), owning.size()) << bodies[i].substr(0, 60);
    for (size_t f = 0; f < owning.size(); ++f) {
      ASSERT_EQ(got.key(f), owning.key(f)) << bodies[i].substr(0, 60);
      ASSERT_EQ(got.value(f), owning.value(f)) << bodies[i].substr(0, 60);
    }
  }
  EXPECT_EQ(worker.pending(), 0u);
}

// stop(false) inside a batch: the rest of it and the batches behind it are counted as discarded,
// and the counts come back to zero.
TEST(MessageWorker, StopWithoutDeliveringCountsTheRest) {
  std::mutex mutex;
  std::condition_variable cv;
  bool go = false;
  MessageWorker* self = nullptr;
  MessageWorker worker(
      1 << 20, 0,
      [&](const Message& m) {
        if (m.get_or("n") != "0") return;
        self->stop(false);  // from inside the callback: the message in progress completes
        std::unique_lock lock(mutex);
        cv.wait_for(lock, std::chrono::seconds(20), [&] { return go; });
      },
      [] {});
  self = &worker;
  FrameBatch batch;
  for (int i = 0; i < 10; ++i) batch.add("type@=x/n@=" + std::to_string(i) + "/");
  worker.push(batch);
  for (int i = 10; i < 25; ++i) batch.add("type@=x/n@=" + std::to_string(i) + "/");
  worker.push(batch);
  {
    std::lock_guard lock(mutex);
    go = true;
  }
  cv.notify_all();
  worker.join();
  EXPECT_EQ(worker.delivered(), 1u);
  EXPECT_EQ(worker.discarded(), 24u);
  EXPECT_EQ(worker.pending(), 0u);
  EXPECT_EQ(worker.pending_bytes(), 0u);
}

// A callback that throws loses nothing else: the next messages are delivered.
TEST(MessageWorker, AThrowingCallbackDoesNotStopDelivery) {
  std::atomic<int> delivered{0};
  MessageWorker worker(
      1 << 20, 0,
      [&](const Message& m) {
        ++delivered;
        if (m.get_or("n") == "1") throw std::runtime_error("callback failed");
      },
      [] {});
  FrameBatch batch;
  for (int i = 0; i < 3; ++i) batch.add("type@=x/n@=" + std::to_string(i) + "/");
  worker.push(batch);
  worker.stop(true);
  worker.join();
  EXPECT_EQ(delivered.load(), 3);
  EXPECT_EQ(worker.delivered(), 3u);
}

// Spares: a busy room whose worker keeps up (the queue empty after every batch) reuses its
// batches instead of allocating ~150 KB per 64 KiB read; once the room goes quiet (a small
// batch), the big spares are freed, so an idle room does not pin a burst's memory.
// A busy room whose worker keeps up keeps a spare for every batch that was in flight, not two:
// the reader's next reads then need no new batch (and no copy).
TEST(MessageWorker, KeepsASpareForEveryBusyBatchInFlight) {
  std::mutex mutex;
  std::condition_variable cv;
  bool release = false;
  std::atomic<uint64_t> delivered{0};
  MessageWorker worker(
      1000000, 0,
      [&](const Message&) {
        std::unique_lock lock(mutex);
        cv.wait(lock, [&] { return release; });
        delivered.fetch_add(1);
      },
      [] {});
  const std::string body = "type@=chatmsg/rid@=1/nn@=name/txt@=" + std::string(250, 'x') + "/";
  FrameBatch batch;
  constexpr int kBatches = 5;
  for (int b = 0; b < kBatches; ++b) {  // the first is taken at once, the others queue behind it
    for (int i = 0; i < 220; ++i) batch.add(body);  // a 64 KiB read's worth
    worker.push(batch);
  }
  {
    std::lock_guard lock(mutex);
    release = true;
  }
  cv.notify_all();
  // Both: four recycled batches can already hold kBatches * 60 KiB while the fifth is still
  // being delivered (a batch is ~75 KiB with its offsets), so waiting on the bytes alone raced.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while ((delivered.load() < kBatches * 220u || worker.spare_bytes() < kBatches * 60u * 1024) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  EXPECT_EQ(delivered.load(), kBatches * 220u);
  EXPECT_GE(worker.spare_bytes(), kBatches * 60u * 1024) << "busy batches were freed";
  worker.stop(true);
  worker.join();
}

TEST(MessageWorker, KeepsBigSparesWhileBusyAndOnlySmallOnesOnceQuiet) {
  std::atomic<uint64_t> delivered{0};
  MessageWorker worker(
      1000000, 0, [&](const Message&) { delivered.fetch_add(1); }, [] {});
  auto wait_for = [](auto&& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::yield();
    }
    return true;
  };
  const std::string body = "type@=chatmsg/rid@=1/nn@=name/txt@=" + std::string(250, 'x') + "/";
  FrameBatch batch;
  for (int i = 0; i < 220; ++i) batch.add(body);  // a 64 KiB read's worth
  ASSERT_GE(batch.body_bytes(), 60u * 1024);
  worker.push(batch);
  ASSERT_TRUE(wait_for([&] { return worker.spare_bytes() >= 60 * 1024; }))
      << "the busy batch was not kept for reuse: " << worker.spare_bytes() << " bytes spare";
  EXPECT_EQ(delivered.load(), 220u);

  batch.add("type@=keeplive/tick@=1/");  // the room went quiet: one small message
  worker.push(batch);
  ASSERT_TRUE(wait_for([&] { return delivered.load() == 221; }));
  ASSERT_TRUE(wait_for([&] { return worker.spare_bytes() <= 2 * 8 * 1024; }))
      << "a quiet room kept " << worker.spare_bytes() << " bytes of spare batches";
  worker.stop(true);
  worker.join();
}

}  // namespace
}  // namespace asyncore::douyu::test

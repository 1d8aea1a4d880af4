// MessageWorker on its own: the pause/drain handshake between the reading thread and the worker,
// and the byte bound.
#include "douyu/message_worker.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

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
  std::vector<Message> batch;
  constexpr int kCycles = 5000;
  int lost = 0;
  for (int cycle = 0; cycle < kCycles && lost == 0; ++cycle) {
    for (;;) {
      batch.emplace_back(std::string("type@=chatmsg/"));
      worker.push_batch(batch);
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
  // A body of exactly `size` bytes (no spare capacity: memory_bytes() counts capacity).
  auto body = [](size_t size) {
    std::string b = "type@=chatmsg/txt@=" + std::string(size, 'x') + "/";
    b.shrink_to_fit();
    return b;
  };
  std::vector<Message> batch;
  batch.emplace_back(body(40 * 1024));
  worker.push_batch(batch);
  EXPECT_FALSE(worker.should_pause());  // 1 message, ~40 KiB: below both marks
  batch.emplace_back(body(40 * 1024));
  worker.push_batch(batch);
  EXPECT_GE(worker.pending_bytes(), 80u * 1024);
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

}  // namespace
}  // namespace asyncore::douyu::test

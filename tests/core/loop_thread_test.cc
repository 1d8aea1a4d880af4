// loop_thread_test.cc — the thread-safe part of Loop: stop(), wake(), call_soon_threadsafe(), and
// the cross-thread wake-up latency (the design promises "within a millisecond").
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

#include "core/loop.h"
#include "tests/core/test_util.h"

namespace asyncore {
namespace {

using Clock = std::chrono::steady_clock;

TEST(LoopThread, StopBeforeLoopReturnsAtOnce) {
  Loop loop;
  loop.hold();  // something to wait for, so only stop() can end the loop
  loop.stop();
  auto start = Clock::now();
  EXPECT_EQ(loop.loop(30.0), 0u);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(1));
  // The request was consumed: the next loop() runs normally (count ends it).
  EXPECT_EQ(loop.loop(0.001, 2), 2u);
  loop.release_hold();
}

// The stop() rule (loop.h): a request made while a loop() runs belongs to that loop(), even when
// it ends for another reason (here: its count ran out) — it does not end the next loop().
TEST(LoopThread, StopDuringALoopThatEndsOnItsOwnDoesNotEndTheNextLoop) {
  Loop loop;
  loop.hold();
  loop.call_soon_threadsafe([&] { loop.stop(); });  // runs during the only turn allowed
  EXPECT_EQ(loop.loop(0.001, 1), 1u);               // count ends it, with the stop made in it
  EXPECT_EQ(loop.loop(0.001, 3), 3u);               // the stale request is gone
  loop.release_hold();
}

// At most one request is pending: two stop() calls before any loop() end only the next loop().
TEST(LoopThread, StopTwiceBeforeLoopEndsOnlyOneLoop) {
  Loop loop;
  loop.hold();
  loop.stop();
  loop.stop();
  EXPECT_EQ(loop.loop(30.0), 0u);
  EXPECT_EQ(loop.loop(0.001, 2), 2u);
  loop.release_hold();
}

TEST(LoopThread, StopFromAnotherThreadEndsA30SecondWait) {
  Loop loop;
  loop.hold();
  std::atomic<bool> started{false};
  loop.call_soon_threadsafe([&] { started = true; });
  std::thread t([&] {
    while (!started.load()) std::this_thread::yield();
    loop.stop();
  });
  auto start = Clock::now();
  loop.loop(30.0);
  auto took = Clock::now() - start;
  t.join();
  EXPECT_TRUE(started.load());
  EXPECT_LT(took, std::chrono::seconds(5));
  loop.release_hold();
}

TEST(LoopThread, WakeEndsTheWait) {
  Loop loop;
  loop.hold();
  loop.poll(0);  // settle
  std::thread t([&] { loop.wake(); });
  auto start = Clock::now();
  EXPECT_EQ(loop.loop(30.0, 1), 1u);  // one turn, ended by the wake-up, not the timeout
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
  t.join();
  loop.release_hold();
}

TEST(LoopThread, CallSoonThreadsafeRunsOnLoopThreadInOrder) {
  Loop loop;
  loop.hold();
  std::vector<int> seen;
  std::thread::id ran_on;
  std::thread t([&] {
    for (int i = 0; i < 100; ++i) loop.call_soon_threadsafe([&, i] { seen.push_back(i); });
    loop.call_soon_threadsafe([&] {
      ran_on = std::this_thread::get_id();
      loop.stop();
    });
  });
  loop.loop(30.0);
  t.join();
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  ASSERT_EQ(seen.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(seen[i], i);
  loop.release_hold();
}

TEST(LoopThread, CallSoonThreadsafeAloneKeepsLoopRunning) {
  Loop loop;  // empty map, no timers: a queued call still runs
  bool ran = false;
  loop.call_soon_threadsafe([&] { ran = true; });
  loop.loop(1.0);
  EXPECT_TRUE(ran);
}

TEST(LoopThread, CallSoonFromInsideACallRunsOnALaterTurn) {
  Loop loop;
  loop.hold();
  int runs = 0;
  uint64_t first_turn = 0, second_turn = 0;
  loop.call_soon_threadsafe([&] {
    ++runs;
    first_turn = loop.turns();
    loop.call_soon_threadsafe([&] {
      ++runs;
      second_turn = loop.turns();
      loop.stop();
    });
  });
  loop.loop(30.0);
  EXPECT_EQ(runs, 2);
  EXPECT_GT(second_turn, first_turn);  // "during the next turn", not the same one
  loop.release_hold();
}

TEST(LoopThread, CrossThreadWakeLatency) {
  // Enqueue on another thread while the loop waits with a 30 s timeout; measure until the
  // function runs on the loop thread. Requirement: well within a millisecond normally; the
  // assertion is loose (50 ms median) so sanitizer builds on a shared machine pass.
  constexpr int kRuns = 1000;
  Loop loop;
  loop.hold();
  std::vector<double> micros(kRuns);
  std::mutex m;
  std::condition_variable cv;
  int done = 0;
  std::thread producer([&] {
    for (int i = 0; i < kRuns; ++i) {
      auto t0 = Clock::now();
      loop.call_soon_threadsafe([&, i, t0] {
        micros[i] = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
        std::lock_guard lock(m);
        done = i + 1;
        cv.notify_one();
      });
      std::unique_lock lock(m);
      cv.wait(lock, [&] { return done == i + 1; });
    }
    loop.stop();
  });
  loop.loop(30.0);
  producer.join();
  loop.release_hold();
  std::sort(micros.begin(), micros.end());
  double median = micros[kRuns / 2], p99 = micros[kRuns * 99 / 100];
  std::printf(
      "cross-thread wake latency over %d wake-ups: median %.1f us, p99 %.1f us, max %.1f us\n",
      kRuns, median, p99, micros.back());
  RecordProperty("wake_latency_median_us", std::to_string(median));
  RecordProperty("wake_latency_p99_us", std::to_string(p99));
  EXPECT_LT(median, 50000.0);
}

}  // namespace
}  // namespace asyncore

namespace asyncore {
namespace {

// run_forever(): an empty map does not end it; only stop() does, and every call posted from
// another thread runs on the loop thread meanwhile.
TEST(LoopRunForever, EmptyMapRunsPostedCallsUntilStop) {
  Loop loop;
  std::atomic<int> ran{0};
  std::thread::id loop_thread;
  std::thread runner([&] {
    loop_thread = std::this_thread::get_id();
    loop.run_forever();
  });
  std::thread::id ran_on;
  for (int i = 0; i < 3; ++i) {
    loop.call_soon_threadsafe([&] {
      ran_on = std::this_thread::get_id();
      ++ran;
    });
  }
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (ran.load() < 3 && Clock::now() < deadline) std::this_thread::yield();
  EXPECT_EQ(ran.load(), 3);
  loop.call_soon_threadsafe([&] { loop.stop(); });
  runner.join();
  EXPECT_EQ(ran_on, loop_thread);
  EXPECT_EQ(loop.size(), 0u);
}

// A loop thread started before anything is queued at all: loop() would return at once (nothing
// to do), run_forever() waits for the first call.
TEST(LoopRunForever, StartedBeforeAnyWorkStillRunsTheFirstCall) {
  Loop loop;
  EXPECT_EQ(loop.loop(30.0), 0u);  // what loop() does with nothing to do
  std::atomic<bool> ran{false};
  std::atomic<bool> returned{false};
  std::thread runner([&] {
    loop.run_forever(30.0);
    returned = true;
  });
  loop.call_soon_threadsafe([&] {
    ran = true;
    loop.stop();
  });
  runner.join();
  EXPECT_TRUE(ran.load());
  EXPECT_TRUE(returned.load());
}

TEST(LoopRunForever, StopBeforeItStartsEndsItAtOnce) {
  Loop loop;
  loop.stop();
  EXPECT_EQ(loop.run_forever(30.0), 0u);
}

// hold()/release_hold() are atomic: many threads may hold and release without losing a count.
TEST(LoopHold, HoldAndReleaseFromManyThreadsBalance) {
  Loop loop;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        loop.hold();
        loop.release_hold();
      }
    });
  }
  loop.hold();
  for (auto& t : threads) t.join();
  EXPECT_EQ(loop.loop(0.001, 2), 2u);  // the one hold left keeps it running
  loop.release_hold();
  EXPECT_EQ(loop.loop(0.001, 2), 0u);  // nothing holds it any more
}

}  // namespace
}  // namespace asyncore

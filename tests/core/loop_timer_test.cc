// loop_timer_test.cc — Loop timers: call_later, call_every, cancel (also from inside the timer's
// own function), and loop() staying alive while a timer is pending.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/loop.h"
#include "tests/core/test_util.h"

namespace asyncore {
namespace {

using Clock = std::chrono::steady_clock;

TEST(LoopTimer, CallLaterRunsOnceAfterItsDelay) {
  Loop loop;
  int runs = 0;
  auto start = Clock::now();
  Clock::time_point ran;
  loop.call_later(0.05, [&] {
    ++runs;
    ran = Clock::now();
  });
  EXPECT_EQ(loop.timer_count(), 1u);
  loop.loop(1.0);  // the pending timer keeps loop() running; it ends when the timer is done
  EXPECT_EQ(runs, 1);
  EXPECT_GE(ran - start, std::chrono::milliseconds(45));
  EXPECT_LT(ran - start, std::chrono::seconds(2));
  EXPECT_EQ(loop.timer_count(), 0u);
}

TEST(LoopTimer, TimersRunInDeadlineOrder) {
  Loop loop;
  std::vector<int> order;
  loop.call_later(0.03, [&] { order.push_back(3); });
  loop.call_later(0.01, [&] { order.push_back(1); });
  loop.call_later(0.02, [&] { order.push_back(2); });
  loop.loop(1.0);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST(LoopTimer, CallEveryRepeatsUntilCancelledInsideItsOwnFunction) {
  Loop loop;
  int runs = 0;
  TimerId id = 0;
  bool cancelled = false;
  id = loop.call_every(0.005, [&] {
    if (++runs == 3) cancelled = loop.cancel(id);
  });
  EXPECT_TRUE(test::run_until(loop, [&] { return runs >= 3; }));
  EXPECT_TRUE(cancelled);
  EXPECT_EQ(loop.timer_count(), 0u);
  EXPECT_EQ(loop.loop(1.0), 0u);  // nothing left to wait for
  EXPECT_EQ(runs, 3);
  EXPECT_FALSE(loop.cancel(id));  // already cancelled
}

TEST(LoopTimer, CancelBeforeItRuns) {
  Loop loop;
  int runs = 0;
  TimerId id = loop.call_later(0.01, [&] { ++runs; });
  TimerId other = loop.call_later(0.05, [&] { ++runs; });
  EXPECT_TRUE(loop.cancel(id));
  EXPECT_FALSE(loop.cancel(id));
  loop.loop(1.0);
  EXPECT_EQ(runs, 1);
  EXPECT_FALSE(loop.cancel(other));  // a finished one-shot timer
  EXPECT_FALSE(loop.cancel(12345));  // never existed
}

TEST(LoopTimer, CancelOneShotInsideItsOwnFunctionReturnsFalse) {
  Loop loop;
  TimerId id = 0;
  int result = -1;
  id = loop.call_later(0.001, [&] { result = loop.cancel(id) ? 1 : 0; });
  loop.loop(1.0);
  EXPECT_EQ(result, 0);  // it already ran
}

TEST(LoopTimer, CancelAnotherTimerFromATimer) {
  Loop loop;
  int victim_runs = 0;
  TimerId victim = loop.call_later(0.03, [&] { ++victim_runs; });
  bool cancelled = false;
  loop.call_later(0.005, [&] { cancelled = loop.cancel(victim); });
  loop.loop(1.0);
  EXPECT_TRUE(cancelled);
  EXPECT_EQ(victim_runs, 0);
}

TEST(LoopTimer, ExceptionInTimerIsLoggedAndLoopGoesOn) {
  Loop loop;
  test::LogCapture capture;
  int runs = 0;
  loop.call_later(0.001, [] { throw std::runtime_error("timer spam"); });
  loop.call_later(0.01, [&] { ++runs; });
  EXPECT_NO_THROW(loop.loop(1.0));
  EXPECT_EQ(runs, 1);
  EXPECT_TRUE(capture.contains("timer spam"));
}

TEST(LoopTimer, TimerMayScheduleAnother) {
  Loop loop;
  int runs = 0;
  loop.call_later(0.001, [&] { loop.call_later(0.001, [&] { ++runs; }); });
  loop.loop(1.0);
  EXPECT_EQ(runs, 1);
}

// A delay the clock cannot hold used to reach an out-of-range double -> time_t conversion
// (undefined behaviour). Now: std::invalid_argument naming the method and the delay, no timer.
TEST(LoopTimer, DelaysTheClockCannotHoldThrow) {
  Loop loop;
  const double bad[] = {
      std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
      -std::numeric_limits<double>::infinity(), 1e300, Loop::kMaxDelaySeconds * 2};
  for (double delay : bad) {
    SCOPED_TRACE(delay);
    try {
      loop.call_later(delay, [] {});
      ADD_FAILURE() << "call_later accepted " << delay;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("Loop::call_later"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("cannot be scheduled"), std::string::npos) << e.what();
    }
    EXPECT_THROW(loop.call_every(delay, [] {}), std::invalid_argument);
  }
  EXPECT_EQ(loop.timer_count(), 0u);
  EXPECT_THROW(loop.poll(std::numeric_limits<double>::quiet_NaN()), std::invalid_argument);
}

// A negative delay counts as 0 (asyncio's call_later does the same): the timer runs at once.
TEST(LoopTimer, NegativeDelayRunsOnTheNextTurn) {
  Loop loop;
  int runs = 0;
  loop.call_later(-5.0, [&] { ++runs; });
  EXPECT_TRUE(test::run_until(
      loop, [&] { return runs == 1; }, 5));
  TimerId every = loop.call_every(-1.0, [&] { ++runs; });
  EXPECT_TRUE(test::run_until(
      loop, [&] { return runs >= 3; }, 5));
  EXPECT_TRUE(loop.cancel(every));
  // The longest delay allowed is accepted (and cancelled before it could matter).
  TimerId far = loop.call_later(Loop::kMaxDelaySeconds, [] {});
  EXPECT_TRUE(loop.cancel(far));
}

// An infinite poll() timeout waits (bounded by kMaxDelaySeconds) until something happens.
TEST(LoopTimer, InfinitePollTimeoutWaitsForTheFirstEvent) {
  Loop loop;
  int runs = 0;
  loop.call_later(0.01, [&] { ++runs; });
  loop.poll(std::numeric_limits<double>::infinity());
  EXPECT_EQ(runs, 1);
}

}  // namespace
}  // namespace asyncore

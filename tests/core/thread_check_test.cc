// thread_check_test.cc — loop-thread affinity checks (core/thread_check.h): while a loop runs on
// thread T, a loop-only method called on another thread is a LOG(FATAL) naming the method and both
// threads; while no loop runs, any one thread may use the Loop. The death tests need the checks
// compiled in (no NDEBUG, or ASYNCORE_THREAD_CHECKS) and are skipped otherwise.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "core/dispatcher.h"
#include "core/loop.h"
#include "tests/core/test_util.h"

namespace asyncore {
namespace {

// Runs `loop` forever on a thread; returns once a turn is running there.
class LoopThread {
 public:
  explicit LoopThread(Loop& loop) : loop_(loop), thread_([this] { loop_.run_forever(); }) {
    std::atomic<bool> running{false};
    loop_.call_soon_threadsafe([&] { running = true; });
    while (!running.load()) std::this_thread::yield();
  }
  ~LoopThread() {
    loop_.stop();
    thread_.join();
  }

 private:
  Loop& loop_;
  std::thread thread_;
};

void use_threadsafe_death_tests() { GTEST_FLAG_SET(death_test_style, "threadsafe"); }

TEST(ThreadCheckDeathTest, CallLaterFromAnotherThreadWhileTheLoopRuns) {
  if (!Loop::thread_checks_enabled()) GTEST_SKIP() << "thread checks are not compiled in";
  use_threadsafe_death_tests();
  EXPECT_DEATH(
      {
        Loop loop;
        LoopThread runner(loop);
        loop.call_later(1.0, [] {});
      },
      "Loop::call_later called from thread [0-9]+ while the loop runs on thread [0-9]+");
}

TEST(ThreadCheckDeathTest, DispatcherSendFromAnotherThreadWhileTheLoopRuns) {
  if (!Loop::thread_checks_enabled()) GTEST_SKIP() << "thread checks are not compiled in";
  use_threadsafe_death_tests();
  EXPECT_DEATH(
      {
        Loop loop;
        auto pair = test::socket_pair();  // no structured binding: its comma splits the macro
        Dispatcher d(loop, std::move(pair.first));
        LoopThread runner(loop);
        d.send("x");
      },
      "Dispatcher::send called from thread [0-9]+ while the loop runs on thread [0-9]+");
}

TEST(ThreadCheckDeathTest, CloseAllAndCancelFromAnotherThreadWhileTheLoopRuns) {
  if (!Loop::thread_checks_enabled()) GTEST_SKIP() << "thread checks are not compiled in";
  use_threadsafe_death_tests();
  EXPECT_DEATH(
      {
        Loop loop;
        LoopThread runner(loop);
        loop.close_all();
      },
      "Loop::close_all called from thread");
  EXPECT_DEATH(
      {
        Loop loop;
        LoopThread runner(loop);
        loop.cancel(1);
      },
      "Loop::cancel called from thread");
}

// The rule's other half: with no loop running, the Loop may move between threads (set up on one,
// run on another, torn down on the first after the join). Nothing dies.
TEST(ThreadCheck, AnyOneThreadMayUseTheLoopWhileNoLoopRuns) {
  Loop loop;
  auto [a, b] = test::socket_pair();
  Dispatcher d(loop, std::move(a));
  int fired = 0;
  loop.call_later(0, [&] { ++fired; });
  std::thread runner([&] {
    loop.call_later(0, [&] { ++fired; });
    loop.loop(0.01, 3);
    d.send("x");
  });
  runner.join();
  EXPECT_EQ(fired, 2);
  char buf[4];
  EXPECT_EQ(::read(b.fd(), buf, sizeof buf), 1);
  d.close();
}

TEST(ThreadCheck, ThreadSafeMethodsMayBeCalledFromAnyThreadWhileTheLoopRuns) {
  Loop loop;
  std::atomic<int> ran{0};
  {
    LoopThread runner(loop);
    loop.wake();
    loop.hold();
    loop.release_hold();
    loop.call_soon_threadsafe([&] { ++ran; });
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (ran.load() == 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
  }  // stop() and join
  EXPECT_EQ(ran.load(), 1);
}

}  // namespace
}  // namespace asyncore

// signals_test.cc — SignalHandler: a signal runs the callback on the loop thread, from a turn of
// the loop; the destructor stops watching and restores the previous disposition.
#include "core/signals.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <stdexcept>
#include <thread>
#include <vector>

#include "core/loop.h"
#include "tests/core/test_util.h"

namespace asyncore {
namespace {

TEST(Signals, CallbackRunsOnTheLoopThreadForEachWatchedSignal) {
  Loop loop;
  std::vector<int> seen;
  std::thread::id ran_on;
  SignalHandler handler(loop, {SIGUSR1, SIGUSR2}, [&](int sig) {
    seen.push_back(sig);
    ran_on = std::this_thread::get_id();
  });
  ASSERT_EQ(::kill(::getpid(), SIGUSR1), 0);
  ASSERT_TRUE(test::run_until(loop, [&] { return seen.size() == 1; }));
  ASSERT_EQ(::kill(::getpid(), SIGUSR2), 0);
  ASSERT_TRUE(test::run_until(loop, [&] { return seen.size() == 2; }));
  EXPECT_EQ(seen, (std::vector<int>{SIGUSR1, SIGUSR2}));
  EXPECT_EQ(ran_on, std::this_thread::get_id());
}

TEST(Signals, StopsALoopRunningForever) {
  Loop loop;
  int signals = 0;
  SignalHandler handler(loop, {SIGUSR1}, [&](int) {
    ++signals;
    loop.stop();
  });
  loop.call_soon_threadsafe([] { ::kill(::getpid(), SIGUSR1); });  // once the loop runs
  loop.run_forever(5.0);
  EXPECT_EQ(signals, 1);
}

TEST(Signals, DestructorRestoresThePreviousDisposition) {
  Loop loop;
  struct sigaction before {};
  ASSERT_EQ(::sigaction(SIGUSR1, nullptr, &before), 0);
  {
    SignalHandler handler(loop, {SIGUSR1}, [](int) {});
    struct sigaction during {};
    ASSERT_EQ(::sigaction(SIGUSR1, nullptr, &during), 0);
    EXPECT_NE(during.sa_handler, before.sa_handler);  // libevent's handler is installed
  }
  struct sigaction after {};
  ASSERT_EQ(::sigaction(SIGUSR1, nullptr, &after), 0);
  EXPECT_EQ(after.sa_handler, before.sa_handler);
}

TEST(Signals, ExceptionFromTheCallbackIsLogged) {
  test::LogCapture capture;
  Loop loop;
  bool ran = false;
  SignalHandler handler(loop, {SIGUSR1}, [&](int) {
    ran = true;
    throw std::runtime_error("signal callback failed");
  });
  ASSERT_EQ(::kill(::getpid(), SIGUSR1), 0);
  ASSERT_TRUE(test::run_until(loop, [&] { return ran; }));
  EXPECT_TRUE(capture.contains("exception escaped the SignalHandler function for signal"));
  EXPECT_TRUE(capture.contains("signal callback failed"));
}

}  // namespace
}  // namespace asyncore

// loop_shutdown_test.cc — what ~Loop does with what is still pending: calls queued with
// call_soon_threadsafe() are dropped unrun (their captured state destroyed, one WARNING with their
// number), before the dispatchers in the map are closed.
#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "core/dispatcher.h"
#include "core/loop.h"
#include "tests/core/test_util.h"

namespace asyncore {
namespace {

TEST(LoopShutdown, QueuedCallsAreDroppedUnrunWithAWarning) {
  test::LogCapture capture;
  int ran = 0;
  auto captured = std::make_shared<int>(7);
  std::weak_ptr<int> weak = captured;
  {
    Loop loop;
    loop.call_soon_threadsafe([&ran, captured] { ++ran; });
    loop.call_soon_threadsafe([&ran] {
      ++ran;
      throw std::runtime_error("never thrown: never run");
    });
    captured.reset();
    EXPECT_FALSE(weak.expired());  // the queued call holds it
  }
  EXPECT_EQ(ran, 0);
  EXPECT_TRUE(weak.expired());  // destroyed with the dropped call
  EXPECT_TRUE(capture.contains(
      "~Loop: dropping 2 call_soon_threadsafe() call(s) still queued, without running them"));
  EXPECT_FALSE(capture.contains("never thrown"));
}

// A dropped call that owns a dispatcher: destroying it closes the dispatcher while the Loop (its
// map and event_base) is still whole.
TEST(LoopShutdown, DroppedCallOwningADispatcherClosesItSafely) {
  auto [a, b] = test::socket_pair();
  int fd = a.fd();
  {
    Loop loop;
    auto d = std::make_shared<Dispatcher>(loop, std::move(a));
    loop.call_soon_threadsafe([d] { d->close(); });
    d.reset();
  }
  EXPECT_FALSE(test::fd_is_open(fd));
}

// A call that runs and throws is logged, and the loop goes on to the next call.
TEST(LoopShutdown, ExceptionOfACallThatRunsIsLogged) {
  test::LogCapture capture;
  Loop loop;
  int after = 0;
  loop.call_soon_threadsafe([] { throw std::runtime_error("boom from a queued call"); });
  loop.call_soon_threadsafe([&] { ++after; });
  loop.poll(0);
  EXPECT_EQ(after, 1);
  EXPECT_TRUE(capture.contains("exception escaped a call_soon_threadsafe() function"));
  EXPECT_TRUE(capture.contains("boom from a queued call"));
}

}  // namespace
}  // namespace asyncore

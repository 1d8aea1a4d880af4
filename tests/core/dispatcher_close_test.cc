// dispatcher_close_test.cc — close() is virtual, as in Python: Loop::close_all() and the default
// handle_close() (so also the default handle_error()) reach a subclass's override; ~Dispatcher
// does not call it.
#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>

#include "core/dispatcher.h"
#include "core/loop.h"
#include "tests/core/test_util.h"

namespace asyncore {
namespace {

struct Counts {
  int closes = 0;
};

// Counts its close() calls, then closes for real.
struct CountingClose : Dispatcher {
  CountingClose(Loop& loop, Socket sock, Counts* counts)
      : Dispatcher(loop, std::move(sock)), counts(counts) {}
  void close() override {
    ++counts->closes;
    Dispatcher::close();
  }
  bool writable() override { return false; }
  Counts* counts;
};

TEST(DispatcherClose, CloseAllCallsTheOverride) {
  Loop loop;
  auto [a, b] = test::socket_pair();
  Counts counts;
  auto d = make_dispatcher<CountingClose>(loop, std::move(a), &counts);
  std::weak_ptr<CountingClose> weak = d;
  d.reset();
  loop.close_all();
  EXPECT_EQ(counts.closes, 1);
  EXPECT_EQ(loop.size(), 0u);
  loop.poll(0);
  EXPECT_TRUE(weak.expired());
}

TEST(DispatcherClose, DefaultHandleCloseCallsTheOverride) {
  Loop loop;
  auto [a, b] = test::socket_pair();
  Counts counts;
  auto d = make_dispatcher<CountingClose>(loop, std::move(a), &counts);
  b.reset();  // end of stream: recv() -> handle_close() (default) -> close()
  char buf[8];
  EXPECT_EQ(d->recv(buf, sizeof buf), 0);
  EXPECT_EQ(counts.closes, 1);
  EXPECT_FALSE(d->is_open());
}

TEST(DispatcherClose, DefaultHandleErrorReachesTheOverride) {
  Loop loop;
  auto [a, b] = test::socket_pair();
  Counts counts;
  struct Throws : CountingClose {
    using CountingClose::CountingClose;
    void handle_read() override { throw std::runtime_error("handler failed"); }
  };
  auto d = make_dispatcher<Throws>(loop, std::move(a), &counts);
  ASSERT_EQ(::write(b.fd(), "x", 1), 1);
  ASSERT_TRUE(test::run_until(loop, [&] { return counts.closes > 0; }));
  EXPECT_EQ(counts.closes, 1);
  EXPECT_FALSE(d->is_open());
}

// The destructor tears the socket down without calling the (already destroyed) override.
TEST(DispatcherClose, DestructorDoesNotCallTheOverride) {
  Loop loop;
  auto [a, b] = test::socket_pair();
  Counts counts;
  int fd = a.fd();
  { CountingClose d(loop, std::move(a), &counts); }
  EXPECT_EQ(counts.closes, 0);
  EXPECT_FALSE(test::fd_is_open(fd));
  EXPECT_EQ(loop.size(), 0u);
}

}  // namespace
}  // namespace asyncore

// ConnectPacer (douyu/client/connect_pacer.h): connection attempts of many clients spaced 1/rate
// apart, in order, a dead waiter's slot passed on; and DouyuClients sharing one, whose reconnects
// after every connection drops at once (a "network blip") come paced, not in a burst.
#include "douyu/client/connect_pacer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <stdexcept>
#include <vector>

#include "tests/douyu_session/client_test_util.h"

namespace asyncore::douyu::test {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// The pacer's promise over `times` (sorted): no window of length T holds more than
// burst + rate * T grants (one more for the clock's granularity).
::testing::AssertionResult paced(const std::vector<Clock::time_point>& times, double rate,
                                 double burst) {
  for (size_t i = 0; i < times.size(); ++i) {
    for (size_t j = i + 1; j < times.size(); ++j) {
      const double t = seconds_between(times[i], times[j]);
      const double allowed = burst + rate * t + 1;
      if (static_cast<double>(j - i + 1) > allowed) {
        return ::testing::AssertionFailure()
               << (j - i + 1) << " grants within " << t << " s; at most " << allowed << " allowed";
      }
    }
  }
  return ::testing::AssertionSuccess();
}

TEST(ConnectPacer, RefusesARateThatIsNotPositive) {
  Loop loop;
  EXPECT_THROW(ConnectPacer(loop, 0), std::invalid_argument);
  EXPECT_THROW(ConnectPacer(loop, -5), std::invalid_argument);
  EXPECT_THROW(ConnectPacer(loop, std::nan("")), std::invalid_argument);
  EXPECT_THROW(ConnectPacer(loop, HUGE_VAL), std::invalid_argument);
}

TEST(ConnectPacer, GrantsInOrderAtTheRate) {
  Loop loop;
  ConnectPacer pacer(loop, 200);  // burst 2
  std::vector<int> order;
  std::vector<Clock::time_point> times;
  for (int i = 0; i < 40; ++i) {
    pacer.acquire([&, i] {
      order.push_back(i);
      times.push_back(Clock::now());
      return true;
    });
  }
  EXPECT_EQ(order.size(), 2u) << "the burst is granted at once";
  ASSERT_TRUE(run_until(
      loop, [&] { return order.size() == 40; }, 20));
  for (int i = 0; i < 40; ++i) EXPECT_EQ(order[static_cast<size_t>(i)], i);
  EXPECT_TRUE(paced(times, 200, 2));
  EXPECT_GE(seconds_between(times.front(), times.back()), (40 - 2) / 200.0 - 0.005);
  EXPECT_EQ(pacer.granted(), 40u);
  EXPECT_EQ(pacer.waiting(), 0u);
  EXPECT_EQ(loop.timer_count(), 0u) << "an idle pacer keeps no timer";
}

TEST(ConnectPacer, AWaiterThatDoesNotUseItsSlotPassesItOn) {
  Loop loop;
  ConnectPacer pacer(loop, 10);  // one slot per 100 ms
  std::vector<int> used;
  pacer.acquire([&] {
    used.push_back(0);
    return true;
  });
  for (int i = 1; i <= 5; ++i) {
    pacer.acquire([&, i] {
      if (i % 2 == 1) return false;  // a client destroyed or stopped meanwhile
      used.push_back(i);
      return true;
    });
  }
  ASSERT_TRUE(run_until(
      loop, [&] { return pacer.waiting() == 0; }, 10));
  EXPECT_EQ(used, (std::vector<int>{0, 2, 4}));
  EXPECT_EQ(pacer.granted(), 3u);
}

TEST(ConnectPacer, AWaiterMayAskAgainFromInsideItsTurn) {
  Loop loop;
  ConnectPacer pacer(loop, 1000);
  int runs = 0;
  std::function<bool()> again = [&] {
    if (++runs < 30) pacer.acquire(again);
    return true;
  };
  pacer.acquire(again);
  ASSERT_TRUE(run_until(
      loop, [&] { return runs == 30 && pacer.waiting() == 0; }, 10));
  EXPECT_EQ(pacer.granted(), 30u);
}

TEST(ConnectPacer, DestroyedWithWaitersDropsThemAndItsTimer) {
  Loop loop;
  int ran = 0;
  {
    ConnectPacer pacer(loop, 1);
    for (int i = 0; i < 3; ++i) pacer.acquire([&] { return ++ran > 0; });
    EXPECT_EQ(ran, 1);
    EXPECT_EQ(loop.timer_count(), 1u);
  }
  EXPECT_EQ(loop.timer_count(), 0u);
  loop.poll(0);
  EXPECT_EQ(ran, 1);
}

// 30 rooms, each connection closed by the simulator after 20 messages: every room loses its
// connection at about the same moment and reconnects (continuing its seq). Through a pacer of
// 100/s, the server sees the logins spaced, and every room still gets 1..N exactly once.
TEST(ConnectPacer, ClientsReconnectingAfterABlipArePacedAndLoseNothing) {
  Loop loop;
  constexpr int kRooms = 30;
  constexpr uint64_t kPerRoom = 60;
  std::vector<Clock::time_point> logins;
  SimulatorOptions so{.rate = 0, .flood = kPerRoom};
  so.drop_after = 20;
  auto sim = make_dispatcher<DouyuServer>(loop, Address::ipv4_loopback(0), so);
  sim->on_request = [&](const Message& m, const Address&) {
    if (m.type() == "loginreq") logins.push_back(Clock::now());
  };
  auto pacer = std::make_shared<ConnectPacer>(loop, 100);
  std::vector<std::unique_ptr<Collector>> got;
  std::vector<std::unique_ptr<DouyuClient>> clients;
  for (int i = 0; i < kRooms; ++i) {
    DouyuClientOptions o = options_for(*sim, std::to_string(3000 + i));
    o.connect_pacer = pacer;
    o.backoff_initial = 1ms;  // the backoff alone would bring them back at once
    o.backoff_max = 5ms;
    got.push_back(std::make_unique<Collector>());
    clients.push_back(std::make_unique<DouyuClient>(loop, o, got.back()->callback()));
    clients.back()->start();
  }
  ASSERT_TRUE(run_until(
      loop,
      [&] {
        return std::all_of(got.begin(), got.end(),
                           [&](const auto& g) { return g->room_messages() >= kPerRoom; });
      },
      60));
  for (auto& g : got) EXPECT_TRUE(is_one_to_n(g->seqs(), kPerRoom));
  // 30 first logins, and 2 reconnects each (after messages 20 and 40): at least 90.
  EXPECT_GE(logins.size(), static_cast<size_t>(3 * kRooms));
  std::sort(logins.begin(), logins.end());
  // The server sees a login a few loop turns after its grant. Under the sanitizers, with other
  // tests running beside, one turn can outlast several of the pacer's 10 ms steps (6 logins read
  // in one turn was seen), so logins granted apart are read together: there only the span is
  // checked, with slack (the grants' own spacing is pinned by the tests above, on the loop alone).
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  constexpr bool kObservedSpacing = false;
  constexpr double kSpanSlack = 0.2;
#else
  constexpr bool kObservedSpacing = true;
  constexpr double kSpanSlack = 0.01;
#endif
  // Burst 2, not the pacer's 1: each login is read up to a turn after its grant, so two grants
  // 10 ms apart can be read 9.8 ms apart (seen with another test running beside). An unpaced
  // herd (30 reconnects within a few ms) still fails by far.
  if (kObservedSpacing) {
    EXPECT_TRUE(paced(logins, 100, 2));
  }
  EXPECT_GE(seconds_between(logins.front(), logins.back()), (90 - 1) / 100.0 - kSpanSlack);
  for (auto& c : clients) c->stop();
  ASSERT_TRUE(run_until(
      loop,
      [&] {
        return std::all_of(clients.begin(), clients.end(),
                           [](const auto& c) { return c->stopped(); });
      },
      20));
  for (auto& c : clients) c->join();
}

// A client stopped (or destroyed) while it waits for its slot never connects; the next does.
TEST(ConnectPacer, StoppedOrDestroyedWhileWaitingNeverConnects) {
  Loop loop;
  auto sim = make_dispatcher<DouyuServer>(loop, Address::ipv4_loopback(0), SimulatorOptions{});
  auto pacer = std::make_shared<ConnectPacer>(loop, 5);  // one slot per 200 ms
  Collector a, b, c;
  auto paced_client = [&](const char* room, Collector& got) {
    DouyuClientOptions o = options_for(*sim, room);
    o.connect_pacer = pacer;
    return std::make_unique<DouyuClient>(loop, o, got.callback());
  };
  auto first = paced_client("1", a);
  auto second = paced_client("2", b);
  auto third = paced_client("3", c);
  first->start();
  second->start();
  third->start();
  EXPECT_EQ(pacer->waiting(), 2u);
  second->stop();
  third.reset();
  ASSERT_TRUE(run_until(
      loop, [&] { return second->stopped(); }, 10));
  ASSERT_TRUE(run_until(
      loop, [&] { return pacer->waiting() == 0; }, 10));
  EXPECT_EQ(pacer->granted(), 1u);
  EXPECT_EQ(sim->stats().connections, 1u);
  EXPECT_EQ(b.count("loginres"), 0u);
  first->stop();
  ASSERT_TRUE(run_until(
      loop, [&] { return first->stopped(); }, 10));
  first->join();
  second->join();
}

}  // namespace
}  // namespace asyncore::douyu::test

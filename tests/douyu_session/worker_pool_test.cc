// DouyuClients sharing a WorkerPool (DouyuClientOptions::worker_pool) against the DouyuServer
// simulator on loopback: no thread per client, exactly-once in-order delivery per room, one pool
// thread per client, back-pressure, every way to stop, join and destroy, the loop-timer heartbeat.
// The idle-room memory figure of docs/DOUYU_CLIENT.md is DISABLED_IdleRoomMemory (run by hand).
#include "douyu/client/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <stdexcept>
#include <thread>

#include "tests/douyu_session/client_test_util.h"

namespace asyncore::douyu::test {
namespace {

using Clock = std::chrono::steady_clock;

// VmRSS of this process, in KiB.
long rss_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

// A room's deliveries: what arrived, on which threads, and whether two ever overlapped.
struct Room {
  Collector got;
  std::atomic<int> inside{0};
  std::atomic<int> overlaps{0};
  std::mutex mutex;
  std::set<std::thread::id> threads;  // guarded by mutex

  DouyuClient::Callback callback() {
    return [this](const Message& m) {
      if (inside.fetch_add(1) != 0) overlaps.fetch_add(1);
      {
        std::lock_guard lock(mutex);
        threads.insert(std::this_thread::get_id());
      }
      got(m);
      inside.fetch_sub(1);
    };
  }
  std::set<std::thread::id> thread_ids() {
    std::lock_guard lock(mutex);
    return threads;
  }
};

bool all_stopped(const std::vector<std::unique_ptr<DouyuClient>>& clients) {
  for (auto& c : clients) {
    if (!c->stopped()) return false;
  }
  return true;
}

void track_max(std::atomic<size_t>& max, size_t value) {
  size_t seen = max.load();
  while (value > seen && !max.compare_exchange_weak(seen, value)) {
  }
}

// ---------------------------------------------------------------- the pool

TEST(WorkerPool, StartsItsThreadsAndRefusesZero) {
  const size_t before = thread_count();
  auto pool = std::make_shared<WorkerPool>(3);
  EXPECT_EQ(pool->size(), 3u);
  EXPECT_EQ(thread_count(), before + 3);
  EXPECT_EQ(pool->attached(), 0u);
  EXPECT_THROW(WorkerPool(0), std::invalid_argument);
}

TEST(WorkerPool, AClientWithoutAPoolStillStartsItsOwnThreads) {
  Loop loop;
  auto sim = simulator(loop, SimulatorOptions{.rate = 0});
  const size_t before = thread_count();
  Collector got;
  DouyuClient client(loop, options_for(*sim), got.callback());
  EXPECT_EQ(thread_count(), before + 2);  // the worker and the heartbeat thread
}

// ---------------------------------------------------------------- delivery

TEST(PooledClients, SixtyRoomsOnTwoThreadsEachExactlyOnceInOrderOnOneThread) {
  Loop loop;
  constexpr int kClients = 60;
  constexpr uint64_t kPerRoom = 200;
  auto sim = simulator(loop, SimulatorOptions{.rate = 0, .flood = kPerRoom});
  auto pool = std::make_shared<WorkerPool>(2);
  const size_t threads_before = thread_count();
  std::vector<std::unique_ptr<Room>> rooms;
  std::vector<std::unique_ptr<DouyuClient>> clients;
  for (int i = 0; i < kClients; ++i) {
    rooms.push_back(std::make_unique<Room>());
    clients.push_back(std::make_unique<DouyuClient>(
        loop, pooled(*sim, pool, std::to_string(2000 + i)), rooms.back()->callback()));
    clients.back()->start();
  }
  EXPECT_EQ(thread_count(), threads_before) << "a pooled client started a thread";
  EXPECT_EQ(pool->attached(), static_cast<size_t>(kClients));
  ASSERT_TRUE(run_until(
      loop,
      [&] {
        for (auto& r : rooms) {
          if (r->got.room_messages() < kPerRoom) return false;
        }
        return true;
      },
      60));
  std::map<std::thread::id, int> rooms_per_thread;
  for (auto& r : rooms) {
    EXPECT_TRUE(is_one_to_n(r->got.seqs(), kPerRoom));
    EXPECT_EQ(r->overlaps.load(), 0) << "two threads in one room's callback at once";
    const auto ids = r->thread_ids();
    ASSERT_EQ(ids.size(), 1u) << "a room's messages came from more than one pool thread";
    EXPECT_NE(*ids.begin(), std::this_thread::get_id());
    ++rooms_per_thread[*ids.begin()];
  }
  // Round-robin: two threads, half of the rooms each.
  ASSERT_EQ(rooms_per_thread.size(), 2u);
  for (auto& [id, n] : rooms_per_thread) EXPECT_EQ(n, kClients / 2);
  for (auto& c : clients) {
    EXPECT_EQ(c->reconnects(), 0u);
    c->stop();
  }
  ASSERT_TRUE(run_until(
      loop, [&] { return all_stopped(clients); }, 20));
  for (auto& c : clients) c->join();
  EXPECT_EQ(sim->stats().logouts, static_cast<uint64_t>(kClients));
  clients.clear();
  EXPECT_EQ(pool->attached(), 0u);
}

TEST(PooledClients, SlowCallbackPausesReadingLosesNothingAndDelaysOnlyItsOwnThread) {
  Loop loop;
  constexpr uint64_t kMessages = 3000;
  auto sim = simulator(loop, SimulatorOptions{.rate = 0, .flood = kMessages});
  auto pool = std::make_shared<WorkerPool>(2);
  std::atomic<size_t> max_queued{0};
  Collector slow_got;
  Collector fast_got;
  DouyuClient* slow_self = nullptr;
  auto slow_options = pooled(*sim, pool, "1");
  slow_options.receive_high_water = 64;
  slow_options.dead_timeout = 300ms;  // a paused reader must not look dead
  DouyuClient slow(loop, slow_options, [&](const Message& m) {  // pool thread 1
    slow_got(m);
    std::this_thread::sleep_for(200us);  // a slow consumer (the point of the test)
    track_max(max_queued, slow_self->queued_messages());
  });
  slow_self = &slow;
  DouyuClient fast(loop, pooled(*sim, pool, "2"), fast_got.callback());  // pool thread 2
  slow.start();
  fast.start();
  ASSERT_TRUE(run_until(
      loop, [&] { return fast_got.room_messages() == kMessages; }, 60));
  // The other pool thread went on at its own pace: the slow room (>= 600 ms of sleeping) is not
  // done when the fast one is.
  EXPECT_LT(slow_got.room_messages(), kMessages);
  ASSERT_TRUE(run_until(
      loop, [&] { return slow_got.room_messages() == kMessages; }, 60));
  EXPECT_TRUE(is_one_to_n(slow_got.seqs(), kMessages));
  EXPECT_TRUE(is_one_to_n(fast_got.seqs(), kMessages));
  EXPECT_EQ(slow.reconnects(), 0u);
  const size_t per_read_bound = 4 * 64 * 1024 / 40;  // one read of 4 x 64 KiB overshoots at most
  EXPECT_LE(max_queued.load(), slow_options.receive_high_water + per_read_bound);
  EXPECT_GT(max_queued.load(), 0u);
  slow.stop();
  fast.stop();
  ASSERT_TRUE(run_until(loop, [&] { return slow.stopped() && fast.stopped(); }));
  slow.join();
  fast.join();
  EXPECT_EQ(slow.queued_messages(), 0u);
  EXPECT_EQ(slow.queued_bytes(), 0u);
  EXPECT_EQ(slow.delivered(), slow.frames_received());
}

// ---------------------------------------------------------------- stop, join, destroy

TEST(PooledClients, StopInsideTheCallbackWorksAndJoinThereThrows) {
  Loop loop;
  auto sim = simulator(loop, SimulatorOptions{.rate = 0, .flood = 10000});
  auto pool = std::make_shared<WorkerPool>(2);
  std::atomic<int> seen{0};
  std::atomic<bool> join_threw{false};
  DouyuClient* self = nullptr;
  DouyuClient client(loop, pooled(*sim, pool), [&](const Message& m) {
    if (m.has("seq") && ++seen == 10) {
      self->stop();
      try {
        self->join();
      } catch (const std::logic_error&) {
        join_threw = true;
      }
    }
  });
  self = &client;
  client.start();
  ASSERT_TRUE(run_until(
      loop, [&] { return client.stopped() && sim->stats().logouts == 1; }, 10));
  client.join();
  EXPECT_TRUE(join_threw.load());
  EXPECT_GE(seen.load(), 10);
  EXPECT_EQ(client.queued_messages(), 0u);
}

TEST(PooledClients, JoinInsideAnotherClientsCallbackOnTheSameThreadThrows) {
  Loop loop;
  auto sim = simulator(loop, SimulatorOptions{.rate = 100});
  auto pool = std::make_shared<WorkerPool>(1);  // both clients on the one thread
  Collector other_got;
  DouyuClient other(loop, pooled(*sim, pool, "2"), other_got.callback());
  std::atomic<int> outcome{0};  // 1: threw logic_error, 2: returned
  DouyuClient client(loop, pooled(*sim, pool, "1"), [&](const Message& m) {
    if (m.has("seq") && outcome == 0) {
      try {
        other.join();  // would wait for the very thread it runs on
        outcome = 2;
      } catch (const std::logic_error&) {
        outcome = 1;
      }
    }
  });
  other.start();
  client.start();
  ASSERT_TRUE(run_until(loop, [&] { return outcome != 0 && other_got.room_messages() >= 3; }));
  EXPECT_EQ(outcome.load(), 1);
  client.stop();
  other.stop();
  ASSERT_TRUE(run_until(loop, [&] { return client.stopped() && other.stopped(); }));
  client.join();
  other.join();
}

TEST(PooledClients, StopAndJoinFromAnotherThreadAndFromTheLoopThread) {
  Loop loop;
  auto sim = simulator(loop, SimulatorOptions{.rate = 200});
  auto pool = std::make_shared<WorkerPool>(2);
  Collector a_got;
  Collector b_got;
  DouyuClient a(loop, pooled(*sim, pool, "1"), a_got.callback());
  DouyuClient b(loop, pooled(*sim, pool, "2"), b_got.callback());
  a.start();
  b.start();
  ASSERT_TRUE(
      run_until(loop, [&] { return a_got.room_messages() >= 5 && b_got.room_messages() >= 5; }));
  // From another thread, while this thread runs the loop.
  std::atomic<bool> joined{false};
  std::thread other([&] {
    a.stop();
    a.join();
    joined = true;
  });
  ASSERT_TRUE(run_until(loop, [&] { return joined.load(); }));
  other.join();
  EXPECT_TRUE(a.stopped());
  EXPECT_EQ(a.queued_messages(), 0u);
  EXPECT_EQ(a.delivered(), a.frames_received());
  // On the loop thread with no loop running: join() runs the loop itself until b has stopped.
  b.stop();
  b.join();
  EXPECT_TRUE(b.stopped());
  EXPECT_EQ(b.delivered(), b.frames_received());
  EXPECT_TRUE(is_one_to_n(b_got.seqs(), b_got.room_messages()));
  EXPECT_EQ(sim->stats().logouts, 2u);
}

TEST(PooledClients, StopWithoutDeliveringPendingDiscardsAndCountsThem) {
  Loop loop;
  auto sim = simulator(loop, SimulatorOptions{.rate = 0, .flood = 5000});
  auto pool = std::make_shared<WorkerPool>(1);
  std::atomic<int> seen{0};
  auto options = pooled(*sim, pool);
  options.deliver_pending_on_stop = false;
  options.dead_timeout = 300ms;
  DouyuClient client(loop, options, [&](const Message& m) {
    if (m.has("seq")) ++seen;
    std::this_thread::sleep_for(200us);  // slow: messages pile up in the queue
  });
  client.start();
  ASSERT_TRUE(run_until(loop, [&] { return seen >= 20 && client.queued_messages() > 0; }));
  client.stop();
  ASSERT_TRUE(run_until(loop, [&] { return client.stopped(); }));
  client.join();
  EXPECT_GT(client.discarded(), 0u);
  EXPECT_EQ(client.delivered() + client.discarded(), client.frames_received());
  EXPECT_EQ(client.queued_messages(), 0u);
  EXPECT_EQ(client.queued_bytes(), 0u);
}

TEST(PooledClients, DestroyedWhileItsPoolThreadDeliversToIt) {
  Loop loop;
  auto flood = simulator(loop, SimulatorOptions{.rate = 0, .flood = 2000});
  auto steady = simulator(loop, SimulatorOptions{.rate = 200});
  auto pool = std::make_shared<WorkerPool>(1);  // the doomed client and the survivor share it
  std::atomic<bool> in_callback{false};
  std::atomic<bool> destroying{false};
  std::atomic<bool> destroyed{false};
  std::atomic<int> after_destroy{0};
  auto doomed =
      std::make_unique<DouyuClient>(loop, pooled(*flood, pool, "1"), [&](const Message& m) {
        if (destroyed) after_destroy.fetch_add(1);
        if (m.has("seq") && !in_callback.exchange(true)) {
          // Still inside the callback when the destructor starts; then some more work.
          const auto deadline = Clock::now() + 5s;
          while (!destroying && Clock::now() < deadline) std::this_thread::yield();
          const auto busy_until = Clock::now() + 20ms;
          while (Clock::now() < busy_until) std::this_thread::yield();
        }
      });
  Collector survivor_got;
  DouyuClient survivor(loop, pooled(*steady, pool, "2"), survivor_got.callback());
  doomed->start();
  survivor.start();
  ASSERT_TRUE(run_until(loop, [&] { return in_callback.load(); }));
  destroying = true;
  doomed.reset();  // waits for the pool thread to leave the doomed client's callback
  destroyed = true;
  EXPECT_EQ(after_destroy.load(), 0);
  EXPECT_EQ(pool->attached(), 1u);
  // The shared thread goes on serving the survivor.
  const size_t before = survivor_got.room_messages();
  ASSERT_TRUE(run_until(loop, [&] { return survivor_got.room_messages() >= before + 20; }));
  EXPECT_EQ(after_destroy.load(), 0);
  survivor.stop();
  ASSERT_TRUE(run_until(loop, [&] { return survivor.stopped(); }));
  survivor.join();
}

// ---------------------------------------------------------------- heartbeat

TEST(PooledClients, HeartbeatIsALoopTimerThatCountsAndPauses) {
  Loop loop;
  auto sim = simulator(loop, SimulatorOptions{.rate = 0});
  Clock::time_point login_at{};
  Clock::time_point first_beat_at{};
  sim->on_request = [&](const Message& m, const Address&) {
    if (m.type() == "loginreq") login_at = Clock::now();
    if (m.type() == "mrkl" && first_beat_at == Clock::time_point{}) first_beat_at = Clock::now();
  };
  auto pool = std::make_shared<WorkerPool>(1);
  const size_t threads_before = thread_count();
  auto options = pooled(*sim, pool);
  options.heartbeat_interval = 100ms;
  options.dead_timeout = 10s;  // the silent room must not look dead
  Collector got;
  DouyuClient client(loop, options, got.callback());
  EXPECT_EQ(thread_count(), threads_before) << "the heartbeat started a thread";
  client.start();
  ASSERT_TRUE(run_until(loop, [&] {
    return client.heartbeats_sent() >= 3 && sim->stats().heartbeats >= 3 && got.count("mrkl") >= 3;
  }));
  // The first beat comes one interval after the session began, not at once.
  EXPECT_GE(first_beat_at - login_at, 90ms);

  // Paused from another thread: not one beat more, however long the loop runs.
  std::thread([&] { client.pause_heartbeat(); }).join();
  const uint64_t paused_at = client.heartbeats_sent();
  EXPECT_FALSE(run_until(
      loop, [&] { return client.heartbeats_sent() != paused_at; }, 0.4));
  // Resumed from another thread.
  std::thread([&] { client.start_heartbeat(); }).join();
  ASSERT_TRUE(run_until(loop, [&] { return client.heartbeats_sent() >= paused_at + 2; }));

  client.stop();
  ASSERT_TRUE(run_until(loop, [&] { return client.stopped(); }));
  client.join();
  const uint64_t stopped_at = client.heartbeats_sent();
  EXPECT_EQ(sim->stats().logouts, 1u);
  loop.poll(0.25);  // timers that would still fire after stop: none may beat
  EXPECT_EQ(client.heartbeats_sent(), stopped_at);
}

// ---------------------------------------------------------------- memory (by hand)

// The idle-room figure of docs/DOUYU_CLIENT.md: N pooled clients (2,000; POOL_RSS_CLIENTS
// overrides) joined to an in-process simulator streaming 0.2 messages/s per room; reports the
// growth of VmRSS per joined room — the simulator's side of each connection included.
// POOL_RSS_NO_POOL=1 measures the default (two threads per client) for comparison.
//   build-pool/bin/douyu_session_tests --gtest_also_run_disabled_tests
//       --gtest_filter='PooledClients.DISABLED_IdleRoomMemory'   (one command line)
TEST(PooledClients, DISABLED_IdleRoomMemory) {
  const char* env = std::getenv("POOL_RSS_CLIENTS");
  const int n = env != nullptr ? std::atoi(env) : 2000;
  ASSERT_GT(n, 0);
  Loop loop;
  auto sim = simulator(loop, SimulatorOptions{.rate = 0.2});
  // POOL_RSS_NO_POOL=1: the same without a pool (two threads per client), for comparison.
  auto pool =
      std::getenv("POOL_RSS_NO_POOL") != nullptr ? nullptr : std::make_shared<WorkerPool>(4);
  Collector warmup_got;
  {
    // One client first, so that the loop's and the allocator's one-time costs are not counted.
    DouyuClient warmup(loop, pooled(*sim, pool, "1"), warmup_got.callback());
    warmup.start();
    ASSERT_TRUE(run_until(loop, [&] { return warmup.state() == DouyuClient::State::kJoined; }));
    warmup.stop();
    warmup.join();
  }
  const long before = rss_kib();
  std::vector<std::unique_ptr<Collector>> got;
  std::vector<std::unique_ptr<DouyuClient>> clients;
  for (int i = 0; i < n; ++i) {
    got.push_back(std::make_unique<Collector>());
    clients.push_back(std::make_unique<DouyuClient>(
        loop, pooled(*sim, pool, std::to_string(10000 + i)), got.back()->callback()));
    clients.back()->start();
  }
  ASSERT_TRUE(run_until(
      loop,
      [&] {
        for (auto& c : clients) {
          if (c->state() != DouyuClient::State::kJoined) return false;
        }
        return true;
      },
      120));
  run_until(
      loop, [] { return false; }, 3);  // some room messages flow (0.2/s × 3 s × N)
  const long after = rss_kib();
  size_t messages = 0;
  for (auto& g : got) messages += g->room_messages();
  const double per_room = static_cast<double>(after - before) / n;
  std::printf(
      "%d %s rooms joined, %zu room messages delivered: VmRSS %ld -> %ld KiB, "
      "%.1f KiB per room (client and simulator side)\n",
      n, pool ? "pooled" : "unpooled", messages, before, after, per_room);
  for (auto& c : clients) c->stop();
  ASSERT_TRUE(run_until(
      loop, [&] { return all_stopped(clients); }, 60));
  clients.clear();
}

}  // namespace
}  // namespace asyncore::douyu::test

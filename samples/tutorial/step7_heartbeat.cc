// Tutorial step 7 (docs/tutorial.md): the heartbeat thread ("心跳机制": 构建心跳线程 / 添加触发机制
// / 添加暂停机制): every 45 s a type@=mrkl/, or the server drops the connection.
//
//   tutorial_step7_heartbeat --port PORT [--host 127.0.0.1] [--room 9999]
//                            [--heartbeat-seconds 45] [--beats 3]
//
// Prints "logged in: heartbeat triggered", then for each beat "heartbeat N sent" (heartbeat
// thread) and "heartbeat N answered" (worker thread, the server's mrkl); after --beats answers
// it closes: "closed: heartbeat paused".
#include <gflags/gflags.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>

#include "core/loop.h"
#include "douyu/protocol/message.h"
#include "douyu/protocol/requests.h"
#include "samples/flags.h"
#include "samples/tutorial/tutorial_client.h"

DEFINE_string(host, "127.0.0.1", "server to connect to");
DEFINE_int32(port, 0, "its port (required; douyu_server prints it)");
DEFINE_string(room, "9999", "room id");
DEFINE_double(heartbeat_seconds, 45, "seconds between heartbeats (the server wants <= 45)");
DEFINE_int32(beats, 3, "close after the server answered this many heartbeats (0: never)");

namespace dy = asyncore::douyu;
using tutorial::TutorialClient;

// A thread that calls beat() every `interval` while triggered. The seed's version loops on
// `if self.ping_runing: send(); time.sleep(40)`: a pause or a stop waits out the sleep. Here the
// thread waits on a condition variable, so trigger(), pause() and stop() take effect at once.
class HeartbeatThread {
 public:
  HeartbeatThread(std::chrono::duration<double> interval, std::function<void()> beat)
      : interval_(interval),
        beat_(std::move(beat)),
        thread_([this](const std::stop_token& st) { run(st); }) {}
  // Thread-safe. Start beating; the first beat comes one interval later.
  void trigger() { set_triggered(true); }
  // Thread-safe. Stop beating until the next trigger().
  void pause() { set_triggered(false); }
  // Ends the thread and waits for it (std::jthread's destructor would do the same).
  void stop() {
    thread_.request_stop();  // wakes the wait below at once (condition_variable_any + stop_token)
    if (thread_.joinable()) thread_.join();
  }

 private:
  void set_triggered(bool on) {
    {
      std::lock_guard lock(mutex_);
      triggered_ = on;
      ++generation_;  // tells a waiting thread that its interval no longer counts
    }
    wake_.notify_all();
  }

  void run(const std::stop_token& st) {
    std::unique_lock lock(mutex_);
    while (!st.stop_requested()) {
      if (!triggered_) {  // paused: sleep until triggered or stopped
        wake_.wait(lock, st, [this] { return triggered_; });
        continue;
      }
      const uint64_t generation = generation_;
      // Wait one interval; a trigger(), pause() or stop() ends the wait early (true or stop).
      if (wake_.wait_for(lock, st, interval_, [&] { return generation_ != generation; })) continue;
      if (st.stop_requested()) break;
      lock.unlock();  // never call out while holding our lock
      beat_();
      lock.lock();
    }
  }

  const std::chrono::duration<double> interval_;
  const std::function<void()> beat_;
  std::mutex mutex_;
  std::condition_variable_any wake_;
  bool triggered_ = false;   // guarded by mutex_
  uint64_t generation_ = 0;  // guarded by mutex_
  std::jthread thread_;      // last: starts once the members above exist
};

int main(int argc, char** argv) {
  const std::string usage =
      "usage: tutorial_step7_heartbeat --port PORT [flags]\n" + samples::describe_flags(__FILE__);
  samples::init_sample(argc, argv, usage);
  if (FLAGS_port <= 0 || FLAGS_port > 65535) samples::usage_error("give --port", usage);
  if (!(FLAGS_heartbeat_seconds > 0)) samples::usage_error("--heartbeat-seconds: above 0", usage);

  asyncore::Loop loop;
  std::shared_ptr<TutorialClient> client;  // set before the loop runs, before any beat
  std::atomic<int> sent{0}, answered{0};

  // The heartbeat thread never touches the socket: it queues a packet with the thread-safe
  // send_packet(), which wakes the loop thread, which sends it.
  HeartbeatThread heartbeat(std::chrono::duration<double>(FLAGS_heartbeat_seconds), [&] {
    std::printf("heartbeat %d sent\n", ++sent);
    client->send_packet(dy::mrkl());  // type@=mrkl/
  });

  auto callback = [&](TutorialClient& c, const std::string& body) {
    const dy::Message m(body);
    if (m.type() == "loginres") {
      std::printf("logged in: heartbeat triggered\n");
      heartbeat.trigger();  // 添加触发机制: beat only while logged in
      c.send_packet(dy::joingroup(FLAGS_room));
    } else if (m.type() == "mrkl") {
      const int n = ++answered;
      std::printf("heartbeat %d answered\n", n);
      if (n == FLAGS_beats) c.call_on_loop([](TutorialClient& cl) { cl.close(); });
    }
  };
  client = asyncore::make_dispatcher<TutorialClient>(loop, FLAGS_host,
                                                     static_cast<uint16_t>(FLAGS_port), callback);
  client->on_close = [&] {  // loop thread
    heartbeat.pause();      // 添加暂停机制: no heartbeats for a closed connection
    std::printf("closed: heartbeat paused\n");
  };
  client->send_packet(dy::loginreq(FLAGS_room));
  loop.loop(5.0);

  // Order matters: stop the heartbeat thread (it uses `client`), then destroy the client (its
  // worker uses `heartbeat`, which a stopped thread ignores), then the heartbeat object.
  heartbeat.stop();
  client.reset();
  return FLAGS_beats > 0 && answered >= FLAGS_beats ? 0 : 1;
}

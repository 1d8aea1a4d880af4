// douyu_danmaku — the barrage collector people run: one DouyuClient per room, all on one Loop.
//
//   douyu_danmaku --demo                      # the simulator in-process; barrage scrolls at once
//   douyu_danmaku --room=9999 --output=jsonl  # a real room (historic endpoint)
//
// stdout carries messages only; logs and the final summary go to stderr.
#include <event2/event.h>
#include <glog/logging.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/loop.h"
#include "douyu/douyu_client.h"
#include "douyu/douyu_server.h"
#include "samples/danmaku/format.h"
#include "samples/danmaku/options.h"

using asyncore::Address;
using asyncore::Loop;
using asyncore::TimerId;
using namespace asyncore::douyu;

namespace {

// Several rooms deliver on several worker threads: one lock keeps each line whole.
class Printer {
 public:
  explicit Printer(danmaku::Output output) : output_(output), color_(isatty(STDOUT_FILENO) == 1) {}
  void print(const std::string& room, const Message& m) {
    if (output_ == danmaku::Output::kNone) return;
    std::string line = output_ == danmaku::Output::kJsonl ? danmaku::format_jsonl(m)
                                                          : danmaku::format_text(room, m, color_);
    std::lock_guard lock(mutex_);
    std::fwrite(line.data(), 1, line.size(), stdout);
    if (color_) std::fflush(stdout);
  }

 private:
  const danmaku::Output output_;
  const bool color_;
  std::mutex mutex_;
};

// --decode=typed: every message through DouyuHandler::dispatch, touching its typed view's fields
// so the work cannot be optimised away (the sum is printed with the final summary).
class TypedSink : public DouyuHandler {
 public:
  void on_chat(const ChatMsg& c, const Message&) override {
    touch(c.nn.size() + c.txt.size() + c.level);
  }
  void on_gift(const Gift& g, const Message&) override { touch(g.nn.size() + g.gfid + g.gfcnt); }
  void on_gift_broadcast(const GiftBroadcast&, const Message& m) override { touch(m.size()); }
  void on_user_enter(const UserEnter& u, const Message&) override { touch(u.nn.size() + u.level); }
  void on_room_status(const RoomStatus&, const Message& m) override { touch(m.size()); }
  void on_rank_list(const RankList&, const Message& m) override { touch(m.size()); }
  void on_other(const Message& m) override { touch(m.size()); }
  uint64_t checksum() const { return checksum_.load(std::memory_order_relaxed); }

 private:
  void touch(uint64_t v) { checksum_.fetch_add(v, std::memory_order_relaxed); }
  std::atomic<uint64_t> checksum_{0};
};

class App {
 public:
  explicit App(danmaku::Options options)
      : options_(std::move(options)), printer_(options_.output) {}

  int run() {
    if (options_.demo) start_simulator();
    for (const auto& room : options_.rooms) add_client(room);
    install_signal_handlers();
    watch_timer_ = loop_.call_every(0.02, [this] { watch(); });
    if (options_.duration > 0) {
      duration_timer_ = loop_.call_later(options_.duration, [this] {
        duration_timer_ = 0;
        shutdown("duration reached");
      });
    }
    if (options_.stats) stats_timer_ = loop_.call_every(1.0, [this] { print_stats(); });
    started_ = std::chrono::steady_clock::now();
    for (auto& c : clients_) c->start();
    loop_.loop();
    for (auto& c : clients_) c->join();
    for (event* e : signal_events_) event_free(e);
    return summarize();
  }

 private:
  void start_simulator() {
    SimulatorOptions sim;
    sim.rate = options_.demo_rate;
    sim.flood = options_.demo_flood;
    server_ = std::make_unique<DouyuServer>(loop_, Address::ipv4_loopback(0), sim);
    options_.host = "127.0.0.1";
    options_.port = server_->address().port();
    LOG(INFO) << "demo: Douyu simulator listening on " << server_->address().to_string();
  }

  void add_client(const std::string& room) {
    DouyuClientOptions o;
    o.host = options_.host;
    o.port = options_.port;
    o.room_id = room;
    o.heartbeat_interval =
        std::chrono::milliseconds(static_cast<int64_t>(options_.heartbeat * 1000));
    o.reconnect = options_.reconnect;
    clients_.push_back(std::make_unique<DouyuClient>(
        loop_, o, [this, room](const Message& m) { on_message(room, m); }));
  }

  // Worker threads (one per room).
  void on_message(const std::string& room, const Message& m) {
    const std::string_view type = m.type();
    const bool session = type == "loginres" || type == "mrkl";
    if (options_.types.empty() ? session : options_.types.count(std::string(type)) == 0) return;
    if (session) {
      printer_.print(room, m);
      return;
    }
    const uint64_t n = counted_.fetch_add(1, std::memory_order_relaxed) + 1;
    if (options_.max_messages > 0 && n > options_.max_messages) return;  // stopping already
    if (options_.decode == danmaku::Decode::kTyped) typed_.dispatch(m);
    printer_.print(room, m);
    if (options_.max_messages > 0 && n == options_.max_messages) {
      loop_.call_soon_threadsafe([this] { shutdown("max messages reached"); });
    }
  }

  void install_signal_handlers() {
    for (int sig : {SIGINT, SIGTERM}) {
      event* e = evsignal_new(
          loop_.base(), sig,
          [](evutil_socket_t s, short, void* arg) {
            static_cast<App*>(arg)->shutdown(s == SIGINT ? "SIGINT" : "SIGTERM");
          },
          this);
      evsignal_add(e, nullptr);
      signal_events_.push_back(e);
    }
  }

  // Loop thread. Every client sends logout and closes; watch() finishes once all have stopped.
  void shutdown(const std::string& why) {
    if (shutting_down_) return;
    shutting_down_ = true;
    end_reason_ = why;
    for (auto& c : clients_) c->stop();
  }

  void watch() {
    bool all_stopped = true;
    for (auto& c : clients_) {
      if (!c->failure().empty() && !shutting_down_) shutdown("connection failed");
      all_stopped = all_stopped && c->stopped();
    }
    if (!all_stopped) return;
    // Every client is done: close what keeps the loop alive, so loop() returns.
    if (server_) server_->close();
    for (TimerId* t : {&watch_timer_, &duration_timer_, &stats_timer_}) {
      if (*t != 0) loop_.cancel(*t);
      *t = 0;
    }
  }

  void print_stats() {
    const uint64_t now = counted_.load(std::memory_order_relaxed);
    uint64_t reconnects = 0;
    for (auto& c : clients_) reconnects += c->reconnects();
    std::fprintf(stderr, "stats: %llu msg/s, %llu messages, %llu reconnects\n",
                 static_cast<unsigned long long>(now - last_count_),
                 static_cast<unsigned long long>(now), static_cast<unsigned long long>(reconnects));
    last_count_ = now;
  }

  int summarize() {
    std::fflush(stdout);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    uint64_t delivered = std::min<uint64_t>(
        counted_.load(), options_.max_messages > 0 ? options_.max_messages : counted_.load());
    uint64_t reconnects = 0;
    std::string failure;
    for (auto& c : clients_) {
      reconnects += c->reconnects();
      if (failure.empty() && !c->failure().empty()) failure = c->failure();
    }
    std::fprintf(stderr,
                 "douyu_danmaku: %llu messages from %zu room(s) in %.3f s (%.0f msg/s), "
                 "%llu reconnects; ended: %s\n",
                 static_cast<unsigned long long>(delivered), clients_.size(), secs,
                 secs > 0 ? static_cast<double>(delivered) / secs : 0.0,
                 static_cast<unsigned long long>(reconnects),
                 failure.empty() ? end_reason_.c_str() : "connection failed");
    if (options_.decode == danmaku::Decode::kTyped) {
      std::fprintf(stderr, "douyu_danmaku: typed views checksum %llu\n",
                   static_cast<unsigned long long>(typed_.checksum()));
    }
    if (!failure.empty()) {
      std::fprintf(stderr,
                   "douyu_danmaku: cannot keep a connection to %s:%u (reconnect is off): %s\n",
                   options_.host.c_str(), options_.port, failure.c_str());
      return 1;
    }
    return 0;
  }

  danmaku::Options options_;
  Printer printer_;
  TypedSink typed_;
  Loop loop_;
  std::unique_ptr<DouyuServer> server_;  // declared after loop_: destroyed before it
  std::vector<std::unique_ptr<DouyuClient>> clients_;
  std::vector<event*> signal_events_;
  std::atomic<uint64_t> counted_{0};
  uint64_t last_count_ = 0;
  TimerId watch_timer_ = 0, duration_timer_ = 0, stats_timer_ = 0;
  bool shutting_down_ = false;
  std::string end_reason_ = "all connections ended";
  std::chrono::steady_clock::time_point started_;
};

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  danmaku::ParseResult parsed = danmaku::parse_options(args);
  if (parsed.help) {
    std::fputs(danmaku::usage().c_str(), stdout);
    return 0;
  }
  if (!parsed.options) {
    std::fprintf(stderr,
                 "douyu_danmaku: %s\nusage: douyu_danmaku (--room=ID | --demo) [flags]; "
                 "--help lists them\n",
                 parsed.error.c_str());
    return 2;
  }
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  App app(std::move(*parsed.options));
  return app.run();
}

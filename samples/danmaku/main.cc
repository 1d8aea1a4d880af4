// douyu_danmaku — the barrage collector people run: one DouyuClient per room, all on one Loop.
//
//   douyu_danmaku --demo                      # the simulator in-process; barrage scrolls at once
//   douyu_danmaku --room=9999 --output=jsonl  # a real room
//   douyu_danmaku --rooms-file=rooms.txt --shard=1/3 --output=none --redis=127.0.0.1:6379
//
// Up to 8 rooms, each room has its own worker and heartbeat threads (the tutorial's design); more
// rooms share a WorkerPool and heartbeat from the loop. Connection attempts (first and re-) of all
// rooms go through one ConnectPacer, --connect-rate per second.
// With --redis every room message also goes to a RedisStreamSink on the same loop; at the end,
// once every room has logged out, the sink is flushed (--redis-flush-timeout) before exiting.
// With --web an HTTP server on the same loop (web_overlay.h, docs/WEB.md) serves the browser
// overlay and streams to it the messages --types lets through (what stdout prints, whatever
// --output says); it starts before the rooms connect and closes once they have all stopped; the
// last messages still on their way to the browsers then may not reach them (a live overlay).
//
// stdout carries messages only; logs and the final summary go to stderr. stdout (output.h) is
// written whole lines at a time, at once whenever a room's worker has caught up; a stuck, closed
// or failing stdout ends the run with a clear line on stderr instead of hanging it or lying.
// Exit statuses: see usage() in options.cc.
#include <event2/event.h>
#include <fcntl.h>
#include <glog/logging.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <vector>

#include "core/loop.h"
#include "douyu/client/connect_pacer.h"
#include "douyu/client/douyu_client.h"
#include "douyu/client/worker_pool.h"
#include "douyu/simulator/douyu_server.h"
#include "redis/redis_stream_sink.h"
#include "samples/danmaku/demo_certificate.h"
#include "samples/danmaku/format.h"
#include "samples/danmaku/options.h"
#include "samples/danmaku/output.h"
#include "samples/danmaku/redis_password.h"
#include "samples/danmaku/stats_report.h"
#include "samples/danmaku/web_overlay.h"
#include "samples/flags.h"

using asyncore::Address;
using asyncore::Loop;
using asyncore::TimerId;
using asyncore::TlsContext;
using asyncore::TlsOptions;
using namespace asyncore::douyu;

namespace {

// Formats messages and hands them to the LineWriter (several rooms' workers share it). Each worker
// thread formats into its own batch, handed to the writer in one call when the worker has caught
// up or the batch is large: no lock and no allocation per line.
class Printer {
 public:
  Printer(danmaku::LineWriter& out, danmaku::Output format)
      : out_(out), format_(format), color_(isatty(STDOUT_FILENO) == 1) {}
  void print(const std::string& room, const Message& m) {
    if (format_ == danmaku::Output::kNone) return;
    Batch& batch = my_batch();
    if (format_ == danmaku::Output::kJsonl) {
      danmaku::append_jsonl(batch.text, m);
    } else {
      batch.text += danmaku::format_text(room, m, color_);
    }
    ++batch.lines;
    if (batch.text.size() >= kBatchBytes) hand_over(batch, false);
  }
  // A worker has caught up: its lines, and what is buffered, go out now.
  void caught_up() {
    if (format_ != danmaku::Output::kNone) hand_over(my_batch(), true);
  }
  // Once every worker has been joined: the lines any of them still holds, then a flush.
  void finish() {
    if (format_ == danmaku::Output::kNone) return;
    std::lock_guard lock(batches_mutex_);
    for (const auto& batch : batches_) {
      if (batch->lines > 0) hand_over(*batch, false);
    }
    out_.flush();
  }

 private:
  static constexpr size_t kBatchBytes = 64 * 1024;
  struct Batch {
    std::string text;
    uint64_t lines = 0;
  };
  // The calling thread's batch (made on its first line; kept until the Printer goes: there is one
  // Printer per run, and every worker thread ends before it does).
  Batch& my_batch() {
    thread_local const Printer* owner = nullptr;
    thread_local Batch* batch = nullptr;
    if (owner != this) {
      std::lock_guard lock(batches_mutex_);
      batches_.push_back(std::make_unique<Batch>());
      batch = batches_.back().get();
      owner = this;
    }
    return *batch;
  }
  void hand_over(Batch& batch, bool flush_now) {
    out_.write_lines(batch.text, batch.lines, flush_now);
    batch.text.clear();
    batch.lines = 0;
  }

  danmaku::LineWriter& out_;
  const danmaku::Output format_;
  const bool color_;
  std::mutex batches_mutex_;
  std::vector<std::unique_ptr<Batch>> batches_;  // guarded by batches_mutex_ (the vector)
};

// After loop() has returned, libevent no longer services signals: these plain handlers make a
// second SIGINT/SIGTERM/SIGHUP give up on a stdout nobody reads, so nothing can hang the exit.
std::atomic<danmaku::LineWriter*> g_output{nullptr};

void give_up_on_output(int) {
  if (danmaku::LineWriter* out = g_output.load(std::memory_order_relaxed)) out->abandon_now();
}

constexpr int kStopSignals[] = {SIGINT, SIGTERM, SIGHUP};

const char* signal_name(int sig) {
  switch (sig) {
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    case SIGHUP:
      return "SIGHUP";
    default:
      return "signal";
  }
}

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

// "cannot create thread: Resource temporarily unavailable (process/thread limit? see ulimit -u)".
std::string thread_error_text(const std::system_error& e) {
  std::string why = "cannot create thread: " + e.code().message();
  if (e.code() == std::errc::resource_unavailable_try_again) {
    why += " (process/thread limit? see ulimit -u)";
  } else if (e.code().message() != e.what()) {
    why += std::string(" (") + e.what() + ")";
  }
  return why;
}

class App {
 public:
  explicit App(danmaku::Options options)
      : options_(std::move(options)), writer_(STDOUT_FILENO), printer_(writer_, options_.output) {}

  int run() {
    if (options_.rooms.empty()) {  // --shard kept none, or an empty --rooms-file
      const std::string why = options_.shard ? "shard " + shard_text() + " keeps none of the " +
                                                   std::to_string(options_.rooms_given) + " rooms"
                                             : "the rooms file lists none";
      std::fprintf(stderr, "douyu_danmaku: no room to follow (%s)\n", why.c_str());
      return 0;
    }
    try {
      if (options_.demo) start_simulator();
      choose_endpoint();
      if (options_.web_port) start_web();
    } catch (const std::exception& e) {  // a CA file OpenSSL cannot use, a port, ...
      std::fprintf(stderr, "douyu_danmaku: %s\n", e.what());
      return 1;
    }
    if (!enough_descriptors()) return 1;
    if (!make_pool()) return 1;
    // --connect-rate: every connection attempt, first or re-, of every room, through one pacer.
    if (options_.connect_rate > 0) {
      pacer_ = std::make_shared<ConnectPacer>(loop_, options_.connect_rate);
    }
    for (size_t i = 0; i < options_.rooms.size(); ++i) {
      if (!add_client(i)) return 1;
    }
    LOG(INFO) << clients_.size() << " room(s)"
              << (options_.shard ? " (shard " + shard_text() + " of " +
                                       std::to_string(options_.rooms_given) + ")"
                                 : std::string())
              << (pool_ ? ", a pool of " + std::to_string(pool_->size()) + " worker threads"
                        : std::string(", one worker and one heartbeat thread each"));
    if (options_.redis) start_sink();
    install_signal_handlers();
    watch_timer_ = loop_.call_every(0.02, [this] { watch(); });
    if (options_.duration > 0) {
      duration_timer_ = loop_.call_later(options_.duration, [this] {
        duration_timer_ = 0;
        shutdown("duration reached");
      });
    }
    if (options_.stats) {
      stats_timer_ = loop_.call_every(options_.stats_interval, [this] { print_stats(); });
    }
    started_ = std::chrono::steady_clock::now();
    last_stats_ = started_;
    for (auto& c : clients_) c->start();  // each connects when the pacer gives it a slot
    loop_.loop();
    hand_signals_to_the_writer();
    if (!writer_.idle_within(std::chrono::milliseconds(200))) {
      std::fprintf(
          stderr,
          "douyu_danmaku: stdout is not being read; giving up on it %g s after the stop at the "
          "latest (a second signal: now)\n",
          options_.drain_timeout);
    }
    for (auto& c : clients_) c->join();
    const int status = summarize();
    sink_.reset();  // loop thread, loop() has returned: disconnects at once
    g_output.store(nullptr, std::memory_order_relaxed);
    return status;
  }

 private:
  void start_simulator() {
    SimulatorOptions sim;
    sim.rate = options_.demo_rate;
    sim.flood = options_.demo_flood;
    sim.transport = options_.demo_transport;
    if (sim.transport == Transport::kWss) {
      // A certificate made for this run: the simulator serves it, the client trusts only it.
      demo_certificate_ = std::make_unique<danmaku::DemoCertificate>();
      TlsOptions server_tls;
      server_tls.cert_file = demo_certificate_->cert_file();
      server_tls.key_file = demo_certificate_->key_file();
      sim.tls = TlsContext::server(server_tls);
      options_.ca_file = demo_certificate_->cert_file();
      options_.insecure = false;
    }
    server_ = std::make_unique<DouyuServer>(loop_, Address::ipv4_loopback(0), sim);
    options_.host = "127.0.0.1";
    options_.port = server_->address().port();
    LOG(INFO) << "demo: Douyu simulator listening on " << server_->address().to_string();
  }

  // --web: listening before any room connects; the line tells users (and tests, with --web=0)
  // where. Throws std::runtime_error naming the address when it cannot listen.
  void start_web() {
    web_ = std::make_unique<danmaku::WebOverlay>(loop_, options_.web_host, *options_.web_port);
    std::fprintf(stderr, "web overlay: %s\n", web_->url().c_str());
    std::fflush(stderr);
  }

  // Where the clients connect, and (wss) the TLS context all rooms share. Throws
  // std::runtime_error with OpenSSL's reason for a CA file it cannot use.
  void choose_endpoint() {
    endpoint_ = danmaku::endpoint_of(options_);
    if (endpoint_.transport != Transport::kWss) return;
    TlsOptions tls;
    tls.ca_file = options_.ca_file;
    tls.insecure = options_.insecure;
    tls.compat = options_.tls_compat;
    tls_context_ = TlsContext::client(tls);
  }

  std::string shard_text() const {
    return std::to_string(options_.shard->index) + "/" + std::to_string(options_.shard->count);
  }

  // Each room holds a socket (and --demo's simulator one more per room): raise the soft limit on
  // open descriptors to what the rooms need, up to the hard limit. False, with the figures on
  // stderr, when even the hard limit is too low.
  bool enough_descriptors() {
    const rlim_t need = static_cast<rlim_t>(options_.rooms.size()) * (options_.demo ? 2 : 1) + 64;
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur >= need) return true;
    if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < need) {
      std::fprintf(stderr,
                   "douyu_danmaku: %zu rooms need about %llu open files, but the limit is %llu "
                   "(ulimit -n; the hard limit is %llu): split the list with --shard\n",
                   options_.rooms.size(), static_cast<unsigned long long>(need),
                   static_cast<unsigned long long>(lim.rlim_cur),
                   static_cast<unsigned long long>(lim.rlim_max));
      return false;
    }
    const rlim_t was = lim.rlim_cur;
    lim.rlim_cur = need;
    if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) return true;  // try anyway; connects will say
    LOG(INFO) << "open files limit raised from " << was << " to " << need << " for "
              << options_.rooms.size() << " rooms";
    return true;
  }

  // More than kOwnThreadsUpTo rooms, or --threads: one pool for every room. False (the reason
  // on stderr) when its threads cannot be created.
  bool make_pool() {
    const unsigned threads = danmaku::pool_threads(options_);
    if (threads == 0) return true;
    try {
      pool_ = std::make_shared<WorkerPool>(threads);
      return true;
    } catch (const std::system_error& e) {
      std::fprintf(stderr, "douyu_danmaku: cannot start a pool of %u worker threads: %s\n", threads,
                   thread_error_text(e).c_str());
      return false;
    }
  }

  void start_sink() {
    asyncore::redis::RedisSinkOptions o;
    o.target = *options_.redis;
    o.stream_template = options_.redis_stream;
    o.maxlen = options_.redis_maxlen;
    o.buffer_limit = options_.redis_buffer;
    sink_ = std::make_unique<asyncore::redis::RedisStreamSink>(loop_, o);
    sink_->start();
  }

  // False when the room's client (its threads) cannot be created: the rooms made so far are
  // stopped and joined (none has connected yet), and the reason is on stderr.
  bool add_client(size_t index) {
    const std::string& room = options_.rooms[index];
    DouyuClientOptions o;
    o.set_endpoint(endpoint_);
    o.tls_context = tls_context_;
    o.room_id = room;
    o.heartbeat_interval =
        std::chrono::milliseconds(static_cast<int64_t>(options_.heartbeat * 1000));
    o.reconnect = options_.reconnect;
    o.worker_pool = pool_;
    o.connect_pacer = pacer_;
    auto self = std::make_shared<std::atomic<DouyuClient*>>(nullptr);
    std::string why;
    try {
      clients_.push_back(std::make_unique<DouyuClient>(
          loop_, o, [this, room, self](const Message& m) { on_message(room, *self, m); }));
      self->store(clients_.back().get(), std::memory_order_release);
      return true;
    } catch (const std::system_error& e) {
      why = thread_error_text(e);
    } catch (const std::exception& e) {
      why = e.what();
    }
    std::fprintf(stderr,
                 "douyu_danmaku: cannot start room %s (room %zu of %zu): %s; stopping the %zu "
                 "started\n",
                 room.c_str(), index + 1, options_.rooms.size(), why.c_str(), clients_.size());
    clients_.clear();  // each stops (never started: nothing to log out of) and joins its threads
    return false;
  }

  // Worker threads (one per room).
  void on_message(const std::string& room, const std::atomic<DouyuClient*>& self,
                  const Message& m) {
    deliver(room, m);
    // The message being delivered still counts as queued: <= 1 means nothing waits behind it.
    const DouyuClient* client = self.load(std::memory_order_acquire);
    if (client == nullptr || client->queued_messages() <= 1) {
      printer_.caught_up();
      if (web_) web_->caught_up();
    }
  }

  void deliver(const std::string& room, const Message& m) {
    const std::string_view type = m.type();
    const bool session = type == "loginres" || type == "mrkl";
    if (options_.types.empty() ? session : options_.types.count(std::string(type)) == 0) return;
    if (session) {
      printer_.print(room, m);
      if (web_) web_->add(m);
      return;
    }
    const uint64_t n = counted_.fetch_add(1, std::memory_order_relaxed) + 1;
    if (options_.max_messages > 0 && n > options_.max_messages) return;  // stopping already
    if (options_.decode == danmaku::Decode::kTyped) typed_.dispatch(m);
    if (options_.decode == danmaku::Decode::kFields) {
      (void)m.size();  // decodes it, if lent undecoded
    }
    printer_.print(room, m);
    if (web_) web_->add(m);  // the browsers get what passes --types (stdout's lines, or all)
    // The server's keep-alive traffic is not room activity: it stays out of the streams.
    if (sink_ && type != "pingreq" && type != "keeplive") sink_->add(room, m);
    if (options_.max_messages > 0 && n == options_.max_messages) {
      printer_.caught_up();
      if (web_) web_->caught_up();
      loop_.call_soon_threadsafe([this] { shutdown("max messages reached"); });
    }
  }

  void install_signal_handlers() {
    for (int sig : kStopSignals) {
      event* e = evsignal_new(
          loop_.base(), sig,
          [](evutil_socket_t s, short, void* arg) {
            static_cast<App*>(arg)->on_stop_signal(signal_name(static_cast<int>(s)));
          },
          this);
      evsignal_add(e, nullptr);
      signal_events_.push_back(e);
    }
  }

  // loop() has returned: libevent's handlers would swallow further signals. Plain handlers take
  // over (freeing the events restores the defaults first), so a second signal ends a wait on a
  // stdout nobody reads.
  void hand_signals_to_the_writer() {
    for (event* e : signal_events_) event_free(e);
    signal_events_.clear();
    g_output.store(&writer_, std::memory_order_relaxed);
    struct sigaction sa {};
    sa.sa_handler = give_up_on_output;
    sigemptyset(&sa.sa_mask);
    for (int sig : kStopSignals) sigaction(sig, &sa, nullptr);
  }

  // Loop thread. Every client sends logout and closes; watch() finishes once all have stopped.
  // From here on, a stdout nobody reads holds the end up for drain_timeout at most.
  // The first signal stops the rooms (and then flushes the sink); a second one while the sink is
  // still flushing gives up on what it holds, so a Redis that is gone cannot hold up the exit
  // beyond the user's patience (the summary counts what was not written).
  void on_stop_signal(const char* name) {
    if (shutting_down_ && sink_flush_started_ && !sink_flushed_) {
      LOG(WARNING) << name << " again: not waiting for Redis any more";
      abandon_sink();
      return;
    }
    shutdown(name);
  }

  // Ends the sink's flush now: its figures are kept for the summary, the sink is destroyed (its
  // flush's hold on the loop goes with it).
  void abandon_sink() {
    sink_totals_ = totals_of(*sink_);
    sink_.reset();
    sink_flushed_ = true;
    sink_all_written_ = false;
  }

  void shutdown(const std::string& why) {
    if (shutting_down_) return;
    shutting_down_ = true;
    end_reason_ = why;
    writer_.abandon_after(
        std::chrono::milliseconds(static_cast<int64_t>(options_.drain_timeout * 1000)));
    // Workers waiting for a Redis that is behind must be able to deliver what is queued (the
    // flush starts once they have): from now on the sink's buffer takes it.
    if (sink_) sink_->stop_waiting();
    for (auto& c : clients_) c->stop();
  }

  void watch() {
    bool all_stopped = true;
    if (writer_.error() != 0 && !shutting_down_) {
      shutdown(writer_.error() == EPIPE ? "stdout closed by its reader" : "cannot write to stdout");
    }
    if (sink_ && !sink_->failure().empty() && !shutting_down_) shutdown("redis failed");
    for (auto& c : clients_) {
      if (!c->failure().empty() && !shutting_down_) shutdown("connection failed");
      all_stopped = all_stopped && c->stopped();
    }
    if (!all_stopped) return;
    // Every client is done: the sink writes what it holds (the watch timer keeps loop() running
    // meanwhile), then close what keeps the loop alive, so loop() returns. The flush starts once
    // the workers have delivered every queued message (a stopped client's worker still does):
    // nothing is add()ed after it. (pending() is a seq_cst load of what the worker stores after
    // each callback: it also orders those callbacks' use of sink_ before what follows here.)
    if (sink_ && !sink_flush_started_) {
      for (auto& c : clients_) {
        if (c->queued_messages() != 0) return;
      }
      sink_flush_started_ = true;
      sink_->flush(
          std::chrono::milliseconds(static_cast<int64_t>(options_.redis_flush_timeout * 1000)),
          [this](bool all_written) {
            sink_flushed_ = true;
            sink_all_written_ = all_written;
          });
    }
    if (sink_ && !sink_flushed_) return;
    if (server_) server_->close();
    if (web_) web_->close();  // its connections and timer go: loop() can return
    for (TimerId* t : {&watch_timer_, &duration_timer_, &stats_timer_}) {
      if (*t != 0) loop_.cancel(*t);
      *t = 0;
    }
  }

  void print_stats() {
    const auto now = std::chrono::steady_clock::now();
    const double secs = std::chrono::duration<double>(now - last_stats_).count();
    last_stats_ = now;
    std::vector<danmaku::RoomSample> rooms;
    rooms.reserve(clients_.size());
    for (size_t i = 0; i < clients_.size(); ++i) {
      const DouyuClient& c = *clients_[i];
      rooms.push_back({&options_.rooms[i], c.delivered(), c.state() == DouyuClient::State::kJoined,
                       c.reconnects()});
    }
    std::optional<danmaku::SinkSample> sink;
    if (sink_) {
      sink = danmaku::SinkSample{options_.redis->redacted(), sink_->connected(), sink_->written(),
                                 sink_->backlog(), sink_->dropped()};
    }
    const std::string text =
        stats_.report(secs, rooms, counted_.load(std::memory_order_relaxed), sink);
    std::fputs(text.c_str(), stderr);
  }

  int summarize() {
    int status = 0;
    printer_.finish();  // bounded by the drain timeout, like every write after shutdown
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
    const int write_error = writer_.error();
    std::string ended = !failure.empty() ? "connection failed" : end_reason_;
    if (write_error != 0 && ended.rfind("SIG", 0) != 0) {
      ended = write_error == EPIPE ? "stdout closed by its reader" : "cannot write to stdout";
    }
    std::fprintf(stderr,
                 "douyu_danmaku: %llu messages from %zu room(s) in %.3f s (%.0f msg/s), "
                 "%llu reconnects; ended: %s\n",
                 static_cast<unsigned long long>(delivered), clients_.size(), secs,
                 secs > 0 ? static_cast<double>(delivered) / secs : 0.0,
                 static_cast<unsigned long long>(reconnects), ended.c_str());
    if (options_.decode == danmaku::Decode::kTyped) {
      std::fprintf(stderr, "douyu_danmaku: typed views checksum %llu\n",
                   static_cast<unsigned long long>(typed_.checksum()));
    }
    if (options_.redis && summarize_sink()) status = 1;
    if (!failure.empty()) {
      // The failure starts with the URL of the attempt, then the reason (DNS, TCP, TLS with
      // OpenSSL's text, the HTTP status of a refused upgrade, ...).
      std::fprintf(stderr, "douyu_danmaku: connection failed (reconnect is off): %s\n",
                   failure.c_str());
      status = 1;
    }
    const auto lost = static_cast<unsigned long long>(writer_.lost_lines());
    if (write_error == EPIPE) {
      // The reader left (`| head`): a normal end, like --max-messages.
      std::fprintf(stderr, "douyu_danmaku: stdout closed by its reader; %llu line(s) not written\n",
                   lost);
    } else if (write_error != 0) {
      std::fprintf(stderr, "douyu_danmaku: cannot write to stdout: %s; %llu line(s) lost\n",
                   std::strerror(write_error), lost);
      status = 1;
    } else if (lost > 0) {
      std::fprintf(stderr,
                   "douyu_danmaku: stdout was not being read: %llu line(s) lost (gave up on it: "
                   "--drain-timeout=%g s, or a second signal)\n",
                   lost, options_.drain_timeout);
      status = 1;
    }
    return status;
  }

  // The sink's lines of the summary; true when messages were lost on the way to Redis (status 1):
  // refused (a fatal error such as a wrong password), dropped at the buffer bound, or still
  // unwritten when --redis-flush-timeout ran out.
  struct SinkTotals {
    unsigned long long written = 0, dropped = 0, left = 0;
    std::string failure;
  };
  static SinkTotals totals_of(const asyncore::redis::RedisStreamSink& sink) {
    return {sink.written(), sink.dropped(), sink.backlog(), sink.failure()};
  }

  bool summarize_sink() {
    const SinkTotals t = sink_ ? totals_of(*sink_) : sink_totals_;
    const unsigned long long dropped = t.dropped, left = t.left;
    std::fprintf(stderr, "douyu_danmaku: redis %s: %llu written, %llu dropped, %llu not written\n",
                 options_.redis->redacted().c_str(), t.written, dropped, left);
    if (!t.failure.empty()) {
      std::fprintf(stderr, "douyu_danmaku: redis failed: %s\n", t.failure.c_str());
      return true;
    }
    if (dropped > 0) {
      std::fprintf(stderr,
                   "douyu_danmaku: redis: %llu message(s) dropped at the buffer's bound while "
                   "Redis was unreachable (--redis-buffer=%llu)\n",
                   dropped, static_cast<unsigned long long>(options_.redis_buffer));
    }
    if (left > 0 || !sink_all_written_) {
      std::fprintf(stderr,
                   "douyu_danmaku: redis: %llu message(s) not written within "
                   "--redis-flush-timeout=%g s (or given up on by a second signal)\n",
                   left, options_.redis_flush_timeout);
    }
    return dropped > 0 || left > 0 || !sink_all_written_;
  }

  danmaku::Options options_;
  danmaku::LineWriter writer_;
  Printer printer_;
  TypedSink typed_;
  Loop loop_;
  std::shared_ptr<WorkerPool> pool_;     // more than kOwnThreadsUpTo rooms, or --threads
  std::shared_ptr<ConnectPacer> pacer_;  // --connect-rate > 0; after loop_: destroyed before it
  // --redis; declared after loop_ (destroyed before it) and before clients_ (whose workers
  // call add(): they are joined first).
  std::unique_ptr<asyncore::redis::RedisStreamSink> sink_;
  bool sink_flush_started_ = false, sink_flushed_ = false, sink_all_written_ = false;
  SinkTotals sink_totals_;  // the sink's figures, once abandon_sink() destroyed it
  danmaku::StatsReport stats_;
  std::chrono::steady_clock::time_point last_stats_;
  std::unique_ptr<danmaku::DemoCertificate> demo_certificate_;  // --demo-transport=wss
  std::unique_ptr<DouyuServer> server_;  // declared after loop_: destroyed before it
  // --web; after loop_ (destroyed before it) and before clients_ (whose workers call add():
  // they are joined first).
  std::unique_ptr<danmaku::WebOverlay> web_;
  Endpoint endpoint_;
  std::shared_ptr<asyncore::TlsContext> tls_context_;  // wss: one for every room
  std::vector<std::unique_ptr<DouyuClient>> clients_;
  std::vector<event*> signal_events_;
  std::atomic<uint64_t> counted_{0};
  TimerId watch_timer_ = 0, duration_timer_ = 0, stats_timer_ = 0;
  bool shutting_down_ = false;
  std::string end_reason_ = "all connections ended";
  std::chrono::steady_clock::time_point started_;
};

// Descriptors 0, 1 and 2 must be open before anything else is: otherwise the first socket would
// become "stdout". Closed ones are reserved with /dev/null; returns whether stdout was closed.
bool reserve_standard_descriptors() {
  bool stdout_closed = false;
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
    stdout_closed = stdout_closed || fd == STDOUT_FILENO;
    const int null = ::open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
    if (null >= 0 && null != fd) {
      ::dup2(null, fd);
      ::close(null);
    }
  }
  return stdout_closed;
}

}  // namespace

int main(int argc, char** argv) {
  const bool stdout_closed = reserve_standard_descriptors();
  samples::log_to_stderr_by_default();  // before parsing: --nologtostderr can still say otherwise
  std::vector<std::string> args(argv + 1, argv + argc);
  danmaku::ParseResult parsed = danmaku::parse_options(args);
  danmaku::hide_redis_passwords(argc, argv);  // `args` keeps them; ps no longer shows them
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
  for (const std::string& w : parsed.warnings)
    std::fprintf(stderr, "douyu_danmaku: warning: %s\n", w.c_str());
  danmaku::apply_redis_password_env(*parsed.options, std::getenv(danmaku::kRedisPasswordEnv));
  if (stdout_closed && parsed.options->output != danmaku::Output::kNone) {
    std::fprintf(stderr,
                 "douyu_danmaku: stdout is closed: nowhere to write the messages (give it a file "
                 "or /dev/null, or use --output=none)\n");
    return 1;
  }
  google::InitGoogleLogging(argv[0]);
  App app(std::move(*parsed.options));
  return app.run();
}

// EventStream over real sockets: the SSE framing byte for byte, keep-alive comments,
// Last-Event-ID, 100 browsers with one that never reads (dropped with its log line; the 99
// others get every event, in order), shutdown with browsers connected, and worker threads
// posting while browsers come and go (run under TSan in CI).
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "tests/web/web_test_util.h"

namespace asyncore::web::test {
namespace {

const char* kGetEvents = "GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n";
const std::string kStreamHead =
    "HTTP/1.1 200 OK\r\nServer: asyncore-web\r\nContent-Type: text/event-stream\r\n"
    "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\nConnection: keep-alive\r\n\r\n";

TEST(SseFraming, OneDataLinePerLineThenABlankLine) {
  auto framed = [](std::string_view data) {
    std::string out;
    append_event(out, data);
    return out;
  };
  EXPECT_EQ(framed(R"({"type":"chatmsg","txt":"你好"})"),
            "data: {\"type\":\"chatmsg\",\"txt\":\"你好\"}\n\n");
  EXPECT_EQ(framed(""), "data: \n\n");
  EXPECT_EQ(framed("a\nb"), "data: a\ndata: b\n\n");
  EXPECT_EQ(framed("a\r\nb\rc"), "data: a\ndata: b\ndata: c\n\n");
  EXPECT_EQ(framed("a\n"), "data: a\n\n");
  EXPECT_EQ(framed("a\n\nb"), "data: a\ndata: \ndata: b\n\n");
}

class EventStreamTest : public WebServerFixture {
 protected:
  // A browser subscribed to /events, its head and retry line already read.
  std::unique_ptr<Client> subscribe(std::string extra_headers = "", int rcvbuf = 0) {
    auto c = std::make_unique<Client>(addr_, rcvbuf);
    c->send("GET /events HTTP/1.1\r\nHost: x\r\n" + extra_headers + "\r\n");
    std::string got;
    EXPECT_TRUE(c->read_until(got, "retry: 2000\n\n"));
    EXPECT_EQ(got, kStreamHead + "retry: 2000\n\n");
    return c;
  }
  void publish(const std::string& data) {
    lt_.on_loop([&] { stream_->publish(data); });
  }
  // A stream whose publisher queue holds ~1000 bytes (about ten events of
  // post_while_the_loop_is_held), one browser subscribed (`browser`); returns its publisher.
  std::shared_ptr<EventPublisher> start_with_a_small_queue(std::unique_ptr<Client>& browser) {
    EventStreamOptions so;
    so.max_pending_bytes = 1000;
    start({}, so);
    auto publisher = lt_.get<std::shared_ptr<EventPublisher>>([&] { return stream_->publisher(); });
    browser = subscribe();
    EXPECT_TRUE(wait_subscribers(1));
    return publisher;
  }
};

TEST_F(EventStreamTest, FramingByteForByte) {
  start();
  auto c = subscribe();
  ASSERT_TRUE(wait_subscribers(1));
  publish(R"({"type":"chatmsg","rid":"9999","nn":"观众","txt":"弹幕"})");
  publish(R"({"type":"uenter","nn":"x"})");
  std::string got;
  const std::string want =
      "data: {\"type\":\"chatmsg\",\"rid\":\"9999\",\"nn\":\"观众\",\"txt\":\"弹幕\"}\n\n"
      "data: {\"type\":\"uenter\",\"nn\":\"x\"}\n\n";
  ASSERT_TRUE(c->read_until(got, "\"x\"}\n\n"));
  EXPECT_EQ(got, want);
}

TEST_F(EventStreamTest, HasSubscribersFollowsTheBrowsers) {
  start();
  auto publisher = lt_.get<std::shared_ptr<EventPublisher>>([&] { return stream_->publisher(); });
  EXPECT_FALSE(publisher->has_subscribers());
  auto c = subscribe();
  EXPECT_TRUE(wait_for([&] { return publisher->has_subscribers(); }));
  c->close();
  EXPECT_TRUE(wait_for([&] { return !publisher->has_subscribers(); }));
}

TEST_F(EventStreamTest, KeepAliveCommentsWhileIdle) {
  EventStreamOptions so;
  so.keep_alive_interval = 0.05;
  start({}, so);
  auto c = subscribe();
  std::string got;
  ASSERT_TRUE(c->read_until(got, ": keep-alive\n\n: keep-alive\n\n", 5));
  EXPECT_EQ(got.substr(0, 28), ": keep-alive\n\n: keep-alive\n\n");
  // An idle page connection is not sent keep-alive comments (they are the stream's).
}

TEST_F(EventStreamTest, LastEventIdIsAcceptedAndIgnored) {
  start();
  LogCapture log;
  auto c = subscribe("Last-Event-ID: 12345\r\n");
  ASSERT_TRUE(wait_subscribers(1));
  publish("after");
  std::string got;
  ASSERT_TRUE(c->read_until(got, "data: after\n\n"));
  EXPECT_EQ(got, "data: after\n\n") << "no replay, nothing before the new event";
  EXPECT_TRUE(log.contains("Last-Event-ID 12345 ignored"));
}

TEST_F(EventStreamTest, HeadOfTheStreamIsHeadersThenClose) {
  start();
  Client c(addr_);
  c.send("HEAD /events HTTP/1.1\r\n\r\n");
  const std::string got = c.read_to_end();
  EXPECT_EQ(c.end(), Client::End::kEof);
  EXPECT_EQ(got.find("HTTP/1.1 200 OK\r\n"), 0u);
  EXPECT_NE(got.find("Content-Type: text/event-stream\r\n"), std::string::npos);
  EXPECT_EQ(got.substr(got.size() - 4), "\r\n\r\n") << "no body";
}

TEST_F(EventStreamTest, InputOnTheStreamIsDiscarded) {
  start();
  auto c = subscribe();
  ASSERT_TRUE(wait_subscribers(1));
  c->send("GET / HTTP/1.1\r\n\r\n" + std::string(100000, 'z'));  // not HTTP any more: ignored
  publish("still");
  std::string got;
  ASSERT_TRUE(c->read_until(got, "data: still\n\n"));
  EXPECT_EQ(got, "data: still\n\n");
}

// Reads many subscribed sockets on one thread with poll(), checking each gets the events
// "data: <n>:<padding>" with n = 0, 1, 2, ... in order.
class Readers {
 public:
  explicit Readers(std::vector<Client*> clients) : clients_(std::move(clients)) {
    received_ = std::vector<std::atomic<int64_t>>(clients_.size());
    for (auto& r : received_) r.store(-1);
    buffers_.resize(clients_.size());
    thread_ = std::thread([this] { run(); });
  }
  ~Readers() {
    stop_ = true;
    thread_.join();
  }
  // The last event number every reader has received (-1: none).
  int64_t min_received() const {
    int64_t m = INT64_MAX;
    for (const auto& r : received_) m = std::min(m, r.load());
    return m;
  }
  std::string failure() {
    std::lock_guard lock(mutex_);
    return failure_;
  }

 private:
  void run() {
    std::vector<pollfd> fds;
    for (Client* c : clients_) fds.push_back({c->fd(), POLLIN, 0});
    char buf[65536];
    while (!stop_) {
      if (::poll(fds.data(), fds.size(), 10) <= 0) continue;
      for (size_t i = 0; i < fds.size(); ++i) {
        if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
        const ssize_t n = ::recv(fds[i].fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n <= 0) {
          fds[i].fd = -1;  // ended: its count stops (the test then fails on it)
          continue;
        }
        buffers_[i].append(buf, static_cast<size_t>(n));
        consume(i);
      }
    }
  }
  void consume(size_t i) {
    std::string& b = buffers_[i];
    size_t pos = 0;
    while (true) {
      const size_t end = b.find("\n\n", pos);
      if (end == std::string::npos) break;
      const std::string event = b.substr(pos, end - pos);
      pos = end + 2;
      if (event.rfind("data: ", 0) != 0) continue;  // retry:, keep-alive comments
      const int64_t n = std::stoll(event.substr(6));
      const int64_t want = received_[i].load() + 1;
      if (n != want) {
        std::lock_guard lock(mutex_);
        if (failure_.empty()) {
          failure_ = "reader " + std::to_string(i) + " got event " + std::to_string(n) +
                     ", expected " + std::to_string(want);
        }
      }
      received_[i].store(n);
    }
    b.erase(0, pos);
  }

  std::vector<Client*> clients_;
  std::vector<std::atomic<int64_t>> received_;
  std::vector<std::string> buffers_;  // reader thread only
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::string failure_;
  std::thread thread_;
};

TEST_F(EventStreamTest, HundredBrowsersOneNeverReads) {
  EventStreamOptions so;
  so.max_buffered_bytes = 64 * 1024;
  start({}, so);
  LogCapture log;
  // The one that never reads: a small receive window, so its socket fills soon.
  auto stuck = subscribe("", 4096);
  const std::string stuck_name = "browser " + Address::local_of(stuck->fd()).to_string();
  std::vector<std::unique_ptr<Client>> browsers;
  std::vector<Client*> raw;
  for (int i = 0; i < 99; ++i) {
    browsers.push_back(subscribe());
    raw.push_back(browsers.back().get());
  }
  ASSERT_TRUE(wait_subscribers(100));
  Readers readers(raw);
  // Batches of 16 events of 1 KiB: each below the bound, so a reader that keeps up is never
  // over it; the next batch goes once every reader has the last one.
  const std::string padding(1000, 'p');
  int64_t next = 0;
  auto publish_batch = [&] {
    std::string framed;
    for (int i = 0; i < 16; ++i) append_event(framed, std::to_string(next++) + ":" + padding);
    lt_.on_loop([&] { stream_->publish_framed(framed, 16); });
    return wait_for([&] { return readers.min_received() == next - 1; }, 20);
  };
  const auto deadline = deadline_in(60);
  while (lt_.get<uint64_t>([&] { return stream_->dropped_subscribers(); }) == 0) {
    ASSERT_LT(Clock::now(), deadline) << "the browser that never reads was never dropped";
    ASSERT_TRUE(publish_batch()) << readers.failure() << "; min " << readers.min_received();
  }
  // A few more batches after the drop: the 99 still get everything, in order.
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(publish_batch()) << readers.failure();
  EXPECT_EQ(readers.failure(), "");
  EXPECT_EQ(readers.min_received(), next - 1);
  EXPECT_EQ(subscribers(), 99u);
  EXPECT_EQ(lt_.get<uint64_t>([&] { return stream_->dropped_subscribers(); }), 1u);
  bool logged = false;
  for (const auto& line : log.lines()) {
    logged = logged || (line.severity == google::GLOG_WARNING &&
                        line.text.find("dropping " + stuck_name) != std::string::npos &&
                        line.text.find("bytes unsent") != std::string::npos);
  }
  EXPECT_TRUE(logged) << "no WARNING naming " << stuck_name;
  // The stuck browser's connection is gone: reading it now ends (after what the kernel held).
  stuck->read_to_end(20);
  EXPECT_NE(stuck->end(), Client::End::kTimeout);
}

TEST_F(EventStreamTest, ShutdownWithBrowsersConnected) {
  start();
  std::vector<std::unique_ptr<Client>> browsers;
  for (int i = 0; i < 5; ++i) browsers.push_back(subscribe());
  Client page(addr_);  // an idle keep-alive connection
  page.send("GET / HTTP/1.1\r\n\r\n");
  std::string rest;
  ASSERT_TRUE(read_response(page, rest));
  Client partial(addr_);  // in the middle of a request
  partial.send("GET / HT");
  ASSERT_TRUE(wait_for([&] { return connections() == 7; }));
  lt_.on_loop([&] {
    server_->close();
    stream_.reset();  // the server held it too: gone once the server is destroyed
    server_.reset();
    EXPECT_EQ(lt_.loop().size(), 0u) << "every connection and the listener closed";
  });
  for (auto& b : browsers) {
    b->read_to_end();
    EXPECT_NE(b->end(), Client::End::kTimeout);
  }
  page.read_to_end();
  EXPECT_NE(page.end(), Client::End::kTimeout);
  EXPECT_THROW(Client again(addr_), std::runtime_error) << "not listening any more";
}

TEST_F(EventStreamTest, ThreadsPostWhileBrowsersComeAndGo) {
  EventStreamOptions so;
  so.keep_alive_interval = 0.01;
  start({}, so);
  auto publisher = lt_.get<std::shared_ptr<EventPublisher>>([&] { return stream_->publisher(); });
  auto steady = subscribe();
  ASSERT_TRUE(wait_subscribers(1));
  constexpr int kThreads = 4, kBatches = 300, kPerBatch = 5;
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      while (!go) std::this_thread::yield();
      int n = 0;
      for (int b = 0; b < kBatches; ++b) {
        std::string framed;
        for (int i = 0; i < kPerBatch; ++i) {
          append_event(framed, std::to_string(t) + "/" + std::to_string(n++));
        }
        if (publisher->has_subscribers()) publisher->post(std::move(framed), kPerBatch);
      }
    });
  }
  std::thread churn([&] {  // browsers subscribing and leaving meanwhile
    while (!go) std::this_thread::yield();
    for (int i = 0; i < 30; ++i) {
      Client c(addr_);
      c.send(kGetEvents);
      std::string got;
      c.read_until(got, "retry: 2000\n\n", 5);  // subscribed; then it leaves
    }
  });
  go = true;
  for (auto& t : threads) t.join();
  churn.join();
  // The steady browser got each thread's events in that thread's order, every one of them.
  std::string got;
  std::map<int, int> next;
  const auto deadline = deadline_in(30);
  while (true) {
    bool all = true;
    for (int t = 0; t < kThreads; ++t) all = all && next[t] == kBatches * kPerBatch;
    if (all) break;
    ASSERT_LT(Clock::now(), deadline) << "missing events";
    std::string more = steady->read_some(5);
    ASSERT_FALSE(more.empty());
    got += more;
    size_t pos = 0;
    for (size_t end; (end = got.find("\n\n", pos)) != std::string::npos; pos = end + 2) {
      const std::string event = got.substr(pos, end - pos);
      if (event.rfind("data: ", 0) != 0) continue;
      const int t = std::stoi(event.substr(6));
      const int n = std::stoi(event.substr(event.find('/') + 1));
      ASSERT_EQ(n, next[t]) << "thread " << t;
      ++next[t];
    }
    got.erase(0, pos);
  }
  EXPECT_EQ(lt_.get<uint64_t>([&] { return stream_->dropped_events(); }), 0u);
  // The stream goes while a thread still posts: post() then does nothing.
  std::atomic<bool> stop{false};
  std::thread late([&] {
    while (!stop) publisher->post("data: late\n\n", 1);
  });
  lt_.on_loop([&] {
    server_.reset();
    stream_.reset();
  });
  stop = true;
  late.join();
  EXPECT_FALSE(publisher->has_subscribers());
}

// Holds the loop thread while events `first` .. `first + count - 1` are posted (~90 bytes each),
// then lets it go.
void post_while_the_loop_is_held(LoopThread& lt, EventPublisher& publisher, int first, int count) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> holding{false};
  lt.loop().call_soon_threadsafe([&holding, released] {
    holding = true;
    released.wait();
  });
  ASSERT_TRUE(wait_for([&] { return holding.load(); }));
  for (int i = first; i < first + count; ++i) {
    std::string framed;
    append_event(framed, "event " + std::to_string(i) + " " + std::string(80, '.'));
    publisher.post(std::move(framed), 1);
  }
  release.set_value();
}

TEST_F(EventStreamTest, BehindLoopDropsTheOldestPostedEvents) {
  LogCapture log;
  std::unique_ptr<Client> c;
  auto publisher = start_with_a_small_queue(c);
  // Hold the loop thread while 100 batches are posted: only the newest ~1000 bytes stay.
  post_while_the_loop_is_held(lt_, *publisher, 0, 100);
  std::string got;
  ASSERT_TRUE(c->read_until(got, "event 99 "));
  EXPECT_EQ(got.find("event 0 "), std::string::npos) << "the oldest were dropped";
  const uint64_t dropped = lt_.get<uint64_t>([&] { return stream_->dropped_events(); });
  EXPECT_GT(dropped, 80u);
  EXPECT_LT(dropped, 100u);
  EXPECT_TRUE(log.contains("event(s) dropped"));
}

// Drops within a second of the last WARNING wait for the next one; the stream's end reports what
// none did, so the log's total is the stream's.
TEST_F(EventStreamTest, DropsAfterTheLastWarningAreLoggedWhenTheStreamGoes) {
  LogCapture log;
  std::unique_ptr<Client> c;
  auto publisher = start_with_a_small_queue(c);
  std::string got;
  post_while_the_loop_is_held(lt_, *publisher, 0, 100);
  ASSERT_TRUE(c->read_until(got, "event 99 "));
  post_while_the_loop_is_held(lt_, *publisher, 100, 100);  // within the second, as a rule
  ASSERT_TRUE(c->read_until(got, "event 199 "));
  const uint64_t dropped = lt_.get<uint64_t>([&] { return stream_->dropped_events(); });
  EXPECT_GT(dropped, 160u);
  lt_.on_loop([&] {
    server_.reset();
    stream_.reset();
  });
  // The stream goes once its last browser's connection is gone (a loop turn later).
  EXPECT_TRUE(wait_for([&] { return log.contains("(" + std::to_string(dropped) + " in all)"); }))
      << "the last of " << dropped << " drops were not reported";
}

}  // namespace
}  // namespace asyncore::web::test

// AsyncChat beyond the CPython port: deterministic splits of terminators across reads, numeric
// terminators counting down, terminator changes inside found_terminator(), discard_buffers(),
// close_when_done(), producers in order, buffer sizes and the high-water mark.
#include "client/async_chat.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tests/client/client_test_util.h"

namespace asyncore {
namespace {

using client_test::run_until;

struct Event {
  std::string kind;  // "data" or "term"
  std::string data;
  bool operator==(const Event&) const = default;
};

class Recorder : public AsyncChat {
 public:
  using AsyncChat::AsyncChat;
  void collect_incoming_data(std::string_view data) override {
    events.push_back({"data", std::string(data)});
    line.append(data);
  }
  void found_terminator() override {
    events.push_back({"term", line});
    lines.push_back(line);
    line.clear();
    if (on_line) on_line(*this);
  }
  std::function<void(Recorder&)> on_line;
  std::vector<Event> events;
  std::vector<std::string> lines;
  std::string line;
};

void write_all(const Socket& s, std::string_view data) {
  ASSERT_EQ(::write(s.fd(), data.data(), data.size()), static_cast<ssize_t>(data.size()));
}

struct Fixture {
  Loop loop;
  Socket peer;
  std::unique_ptr<Recorder> chat;
  Fixture() {
    auto [a, b] = client_test::socket_pair();
    chat = std::make_unique<Recorder>(loop, std::move(a));
    peer = std::move(b);
  }
  // Writes `data` and lets the chat read it (one read per write, since the loop reads it all).
  void feed(std::string_view data) {
    write_all(peer, data);
    chat->handle_read();
  }
};

TEST(AsyncChatTest, TerminatorSplitAcrossReads) {
  Fixture f;
  f.chat->set_terminator("\r\n");
  f.feed("qwerty\r");  // find_prefix_at_end case: "\r" is kept back, not collected
  EXPECT_EQ(f.chat->events, (std::vector<Event>{{"data", "qwerty"}}));
  f.feed("\nnext\r\nlast");
  EXPECT_EQ(f.chat->lines, (std::vector<std::string>{"qwerty", "next"}));
  EXPECT_EQ(f.chat->line, "last");
  // A long terminator split over three reads, with a false start.
  f.chat->set_terminator("<END>");
  f.feed("<E");
  f.feed("N<EN");
  f.feed("D>");
  EXPECT_EQ(f.chat->lines.back(), "last<EN");
}

TEST(AsyncChatTest, NumericTerminatorCountsDownAcrossReads) {
  Fixture f;
  f.chat->set_terminator(10);
  f.feed("abcd");
  EXPECT_EQ(f.chat->get_terminator().count, 6u);
  f.feed("efghijKL");
  EXPECT_EQ(f.chat->lines, (std::vector<std::string>{"abcdefghij"}));
  // Count reached 0: like asynchat, everything after is collected (terminator 0 == none).
  EXPECT_TRUE(f.chat->get_terminator().collects_all());
  EXPECT_EQ(f.chat->line, "KL");
}

TEST(AsyncChatTest, TerminatorChangedInsideFoundTerminator) {
  // A header line announces a body length: the rest of the same read is split by the new
  // terminator.
  Fixture f;
  f.chat->set_terminator("\n");
  f.chat->on_line = [](Recorder& r) {
    if (r.lines.back().rfind("LEN ", 0) == 0) {
      r.set_terminator(std::stoi(r.lines.back().substr(4)));
    } else {
      r.set_terminator("\n");
    }
  };
  f.feed("LEN 5\nab\ncdline\n");
  EXPECT_EQ(f.chat->lines, (std::vector<std::string>{"LEN 5", "ab\ncd", "line"}));
}

TEST(AsyncChatTest, EmptyStringTerminatorCollectsEverything) {
  Fixture f;
  f.chat->set_terminator("");
  f.feed("a\nb");
  EXPECT_TRUE(f.chat->lines.empty());
  EXPECT_EQ(f.chat->line, "a\nb");
}

TEST(AsyncChatTest, DiscardBuffersInsideFoundTerminatorStopsProcessing) {
  Fixture f;
  f.chat->set_terminator("\n");
  f.chat->on_line = [](Recorder& r) { r.discard_buffers(); };
  f.feed("one\ntwo\nthree\n");
  EXPECT_EQ(f.chat->lines, (std::vector<std::string>{"one"}));
}

TEST(AsyncChatTest, DefaultCollectAndGetData) {
  struct Lines : AsyncChat {
    using AsyncChat::AsyncChat;
    void found_terminator() override { got.push_back(get_data()); }
    std::vector<std::string> got;
  };
  Loop loop;
  auto [a, b] = client_test::socket_pair();
  Lines chat(loop, std::move(a));
  chat.set_terminator("\n");
  write_all(b, "x\nyy\n");
  chat.handle_read();
  EXPECT_EQ(chat.got, (std::vector<std::string>{"x", "yy"}));
}

TEST(AsyncChatTest, InBufferSizeBoundsOneRead) {
  Fixture f;
  f.chat->set_terminator(std::nullopt);
  f.chat->set_ac_in_buffer_size(4);
  f.feed("abcdefghij");
  EXPECT_EQ(f.chat->line, "abcd");
  f.chat->handle_read();
  EXPECT_EQ(f.chat->line, "abcdefgh");
}

TEST(AsyncChatTest, OutputInOrderWithProducersAndCloseWhenDone) {
  Fixture f;
  f.chat->set_ac_out_buffer_size(3);  // every push is split into 3-byte entries
  f.chat->push("one ");
  f.chat->push_with_producer(std::make_unique<SimpleProducer>("two three ", 4));
  f.chat->push("four");
  f.chat->close_when_done();
  f.chat->push("never sent");  // queued after the close marker
  std::string got;
  ASSERT_TRUE(run_until(f.loop, [&] {
    char buf[256];
    ssize_t n = ::read(f.peer.fd(), buf, sizeof buf);
    if (n > 0) got.append(buf, static_cast<size_t>(n));
    return n == 0;  // end of stream: the chat closed
  }));
  EXPECT_EQ(got, "one two three four");
  EXPECT_FALSE(f.chat->is_open());
}

TEST(AsyncChatTest, PushSplitsIntoOutBufferSizedEntries) {
  Loop loop;
  auto [a, b] = client_test::socket_pair();
  Recorder chat(loop);
  chat.set_ac_out_buffer_size(10);
  chat.create_socket(AF_UNIX);  // not connected: push() only queues
  chat.push(std::string(35, 'x'));
  EXPECT_EQ(chat.producer_fifo_size(), 4u);
  EXPECT_EQ(chat.pending(), 35u);
  EXPECT_TRUE(chat.writable());
  chat.discard_buffers();
  EXPECT_EQ(chat.pending(), 0u);
  EXPECT_EQ(chat.producer_fifo_size(), 0u);
}

TEST(AsyncChatTest, HighWaterMarkClosesAndBoundsMemory) {
  Fixture f;  // the peer never reads
  constexpr size_t kMark = 512 * 1024;
  constexpr size_t kPush = 32 * 1024;
  int calls = 0;
  f.chat->set_high_water_mark(kMark, [&](size_t buffered) {
    ++calls;
    EXPECT_GT(buffered, kMark);
  });
  client_test::LogCapture log;
  std::string chunk(kPush, 'y');
  for (int i = 0; i < 1000 && f.chat->is_open(); ++i) f.chat->push(chunk);
  EXPECT_FALSE(f.chat->is_open());
  EXPECT_EQ(calls, 1);
  EXPECT_LE(f.chat->max_pending(), kMark + kPush);
  EXPECT_EQ(f.chat->pending(), 0u);
  EXPECT_FALSE(f.chat->push("more"));
  EXPECT_TRUE(log.contains("high-water mark"));
}

TEST(AsyncChatTest, SetTerminatorOverloads) {
  Loop loop;
  Recorder c(loop);
  c.set_terminator("\r\n");
  EXPECT_EQ(c.get_terminator().kind, AsyncChat::Terminator::Kind::kBytes);
  c.set_terminator(std::string("ab"));
  EXPECT_EQ(c.get_terminator().bytes, "ab");
  c.set_terminator(0);
  EXPECT_EQ(c.get_terminator().kind, AsyncChat::Terminator::Kind::kCount);
  EXPECT_TRUE(c.get_terminator().collects_all());
  c.set_terminator(size_t{7});
  EXPECT_EQ(c.get_terminator().count, 7u);
  c.set_terminator(std::nullopt);
  EXPECT_EQ(c.get_terminator().kind, AsyncChat::Terminator::Kind::kNone);
}

}  // namespace
}  // namespace asyncore

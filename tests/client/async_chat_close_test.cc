// async_chat_close_test.cc — "a closed dispatcher receives no further events" holds inside
// AsyncChat's input loop: once found_terminator() or collect_incoming_data() closes the
// dispatcher, the rest of the buffered input is dropped (asynchat would go on splitting it).
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "client/async_chat.h"
#include "tests/client/client_test_util.h"

namespace asyncore {
namespace {

class Lines : public AsyncChat {
 public:
  using AsyncChat::AsyncChat;
  void collect_incoming_data(std::string_view data) override {
    collected.emplace_back(data);
    if (close_on_data) close();
  }
  void found_terminator() override {
    ++terminators;
    if (close_on_terminator) close();
  }
  bool close_on_data = false;
  bool close_on_terminator = false;
  std::vector<std::string> collected;
  int terminators = 0;
};

struct Connected {
  Loop loop;
  Socket peer;
  std::unique_ptr<Lines> chat;
  Connected() {
    auto [a, b] = client_test::socket_pair();
    chat = std::make_unique<Lines>(loop, std::move(a));
    peer = std::move(b);
  }
  void feed(std::string_view data) {
    ASSERT_EQ(::write(peer.fd(), data.data(), data.size()), static_cast<ssize_t>(data.size()));
    chat->handle_read();  // one read takes it all
  }
};

TEST(AsyncChatClose, CloseInFoundTerminatorStopsTheRestOfTheInput) {
  Connected c;
  c.chat->set_terminator("\n");
  c.chat->close_on_terminator = true;
  c.feed("one\ntwo\nthree\n");
  EXPECT_EQ(c.chat->terminators, 1);
  EXPECT_EQ(c.chat->collected, (std::vector<std::string>{"one"}));
  EXPECT_FALSE(c.chat->is_open());
}

TEST(AsyncChatClose, CloseInCollectIncomingDataSkipsFoundTerminator) {
  Connected c;
  c.chat->set_terminator("\n");
  c.chat->close_on_data = true;
  c.feed("one\ntwo\n");
  EXPECT_EQ(c.chat->terminators, 0);
  EXPECT_EQ(c.chat->collected, (std::vector<std::string>{"one"}));
}

TEST(AsyncChatClose, CloseWithACountTerminatorStopsToo) {
  Connected c;
  c.chat->set_terminator(3);
  c.chat->close_on_terminator = true;
  c.feed("abcdefghi");
  EXPECT_EQ(c.chat->terminators, 1);
  EXPECT_EQ(c.chat->collected, (std::vector<std::string>{"abc"}));
}

// A byte-count terminator becomes 0 ("collect everything") once it fires.
TEST(AsyncChatClose, CountTerminatorBecomesCollectAllOnceItFires) {
  Connected c;
  c.chat->set_terminator(2);
  c.feed("abcdef");
  EXPECT_EQ(c.chat->terminators, 1);
  EXPECT_EQ(c.chat->get_terminator().kind, AsyncChat::Terminator::Kind::kCount);
  EXPECT_EQ(c.chat->get_terminator().count, 0u);
  EXPECT_TRUE(c.chat->get_terminator().collects_all());
  EXPECT_EQ(c.chat->collected, (std::vector<std::string>{"ab", "cdef"}));
}

// Once closed, push_with_producer() queues nothing, as push(): both return false (a memcached
// client written on AsyncChat found data queued, and counted in pending(), after its close()).
TEST(AsyncChatClose, PushWithProducerAfterCloseQueuesNothing) {
  Connected c;
  c.chat->close();
  EXPECT_FALSE(c.chat->push("data"));
  EXPECT_FALSE(c.chat->push_with_producer(std::string("bytes as a producer")));
  EXPECT_FALSE(c.chat->push_with_producer(std::make_unique<SimpleProducer>("a producer", 4)));
  EXPECT_EQ(c.chat->pending(), 0u);
  EXPECT_EQ(c.chat->producer_fifo_size(), 0u);
}

TEST(AsyncChatClose, PushWithProducerWhileOpenIsQueuedAndSent) {
  Connected c;
  EXPECT_TRUE(c.chat->push_with_producer(std::string("one ")));
  EXPECT_TRUE(c.chat->push_with_producer(std::make_unique<SimpleProducer>("two", 2)));
  std::string got;
  char buf[64];
  while (got.size() < 7) {
    ssize_t n = ::read(c.peer.fd(), buf, sizeof buf);
    ASSERT_GT(n, 0);
    got.append(buf, static_cast<size_t>(n));
    c.chat->initiate_send();
  }
  EXPECT_EQ(got, "one two");
}

}  // namespace
}  // namespace asyncore

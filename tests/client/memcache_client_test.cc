// MemcacheClient (samples/memcache/) against a real memcached on a free loopback port, and against
// a fake server (a plain listening socket in the test) for what memcached never sends. Every wait
// has a deadline (run_until); nothing sleeps to synchronize.
#include "samples/memcache/memcache_client.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "tests/client/client_test_util.h"
#include "tests/client/memcache_test_util.h"

namespace {

using asyncore::Loop;
using asyncore::make_dispatcher;
using asyncore::client_test::Child;
using asyncore::client_test::LogCapture;
using asyncore::client_test::run_until;
using memcache::Callback;
using memcache::MemcacheClient;
using memcache::Result;
using memcache::Status;
using memcache::test::FakeServer;
using memcache::test::free_port;
using memcache::test::Memcached;
using memcache::test::Recorder;

// The recorder is declared before the Loop: ~Loop closes a client left open, whose pending
// callbacks then still find it alive.
class MemcacheTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.start()) << server_.error(); }
  std::shared_ptr<MemcacheClient> connect() {
    return make_dispatcher<MemcacheClient>(loop_, "127.0.0.1", server_.port());
  }
  bool wait_calls(size_t n) {
    return run_until(loop_, [&] { return rec_.calls.size() >= n; });
  }

  Recorder rec_;
  Loop loop_;
  Memcached server_;
};

TEST_F(MemcacheTest, SetGetDeleteRoundTrip) {
  auto mc = connect();
  mc->set("greeting", "hello", 7, 0, rec_.cb(0));
  mc->get("greeting", rec_.cb(1));
  mc->remove("greeting", rec_.cb(2));
  mc->get("greeting", rec_.cb(3));
  mc->remove("greeting", rec_.cb(4));
  ASSERT_TRUE(wait_calls(5));
  EXPECT_EQ(rec_.of(0).status, Status::kStored);
  ASSERT_EQ(rec_.of(1).status, Status::kOk);
  ASSERT_EQ(rec_.of(1).values.size(), 1u);
  EXPECT_EQ(rec_.of(1).values[0].key, "greeting");
  EXPECT_EQ(rec_.of(1).values[0].data, "hello");
  EXPECT_EQ(rec_.of(1).values[0].flags, 7u);
  EXPECT_EQ(rec_.of(2).status, Status::kDeleted);
  EXPECT_EQ(rec_.of(3).status, Status::kOk);
  EXPECT_TRUE(rec_.of(3).values.empty());
  EXPECT_EQ(rec_.of(4).status, Status::kNotFound);
  EXPECT_TRUE(mc->is_open());
  EXPECT_EQ(mc->pending_requests(), 0u);
}

TEST_F(MemcacheTest, BinaryValueWithProtocolLookalikes) {
  // Everything a line-based reader would trip over: CRLF, END, a fake VALUE header, NULs.
  const std::string tricky = std::string("a\r\nEND\r\nVALUE x 0 3\r\n\0b\0\r\n", 27) + "\r\n";
  ASSERT_EQ(tricky.size(), 29u);
  auto mc = connect();
  mc->set("tricky", tricky, 0xFFFFFFFFu, 0, rec_.cb(0));
  mc->get_many({"tricky", "tricky"}, rec_.cb(1));  // twice: the data block is read twice
  ASSERT_TRUE(wait_calls(2));
  EXPECT_EQ(rec_.of(0).status, Status::kStored);
  ASSERT_EQ(rec_.of(1).status, Status::kOk);
  ASSERT_EQ(rec_.of(1).values.size(), 2u);
  for (const memcache::Value& v : rec_.of(1).values) {
    EXPECT_EQ(v.data, tricky);
    EXPECT_EQ(v.flags, 0xFFFFFFFFu);
  }
  EXPECT_TRUE(mc->is_open());
}

TEST_F(MemcacheTest, ThousandPipelinedRequestsAnsweredInOrder) {
  auto mc = connect();
  constexpr int kRequests = 1000;
  for (int i = 0; i < kRequests; i += 2) {
    const std::string key = "k" + std::to_string(i);
    mc->set(key, "v" + std::to_string(i), static_cast<uint32_t>(i), 0, rec_.cb(i));
    mc->get(key, rec_.cb(i + 1));
  }
  // All written (or queued) before a single reply was read: the loop has not run yet.
  EXPECT_EQ(mc->pending_requests(), static_cast<size_t>(kRequests));
  EXPECT_TRUE(rec_.calls.empty());
  ASSERT_TRUE(wait_calls(kRequests));
  ASSERT_EQ(rec_.calls.size(), static_cast<size_t>(kRequests));
  for (int i = 0; i < kRequests; ++i) {
    ASSERT_EQ(rec_.calls[i].first, i) << "callbacks out of order";
    const Result& r = rec_.calls[i].second;
    if (i % 2 == 0) {
      ASSERT_EQ(r.status, Status::kStored) << i;
    } else {
      ASSERT_EQ(r.status, Status::kOk) << i;
      ASSERT_EQ(r.values.size(), 1u) << i;
      EXPECT_EQ(r.values[0].data, "v" + std::to_string(i - 1));
      EXPECT_EQ(r.values[0].flags, static_cast<uint32_t>(i - 1));
    }
  }
  EXPECT_EQ(mc->pending_requests(), 0u);
}

TEST_F(MemcacheTest, MultiKeyGetWithMissingKeys) {
  auto mc = connect();
  mc->set("a", "1", 0, 0, rec_.cb(0));
  mc->set("c", "3", 0, 0, rec_.cb(1));
  mc->get_many({"a", "b", "c", "d"}, rec_.cb(2));
  mc->get_many({"x", "y"}, rec_.cb(3));
  ASSERT_TRUE(wait_calls(4));
  const Result& r = rec_.of(2);
  ASSERT_EQ(r.status, Status::kOk);
  ASSERT_EQ(r.values.size(), 2u);
  EXPECT_EQ(r.values[0].key, "a");
  EXPECT_EQ(r.values[1].key, "c");
  ASSERT_NE(r.find("c"), nullptr);
  EXPECT_EQ(r.find("c")->data, "3");
  EXPECT_EQ(r.find("b"), nullptr);
  EXPECT_EQ(rec_.of(3).status, Status::kOk);
  EXPECT_TRUE(rec_.of(3).values.empty());
}

TEST_F(MemcacheTest, LargeValueNearTheItemLimitAndTooLarge) {
  auto mc = connect();
  // memcached's default item limit is 1 MiB, header and key included.
  std::string big(1024 * 1024 - 1024, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 + i / 251);
  const std::string too_big(1024 * 1024 + 1, 'x');
  mc->set("big", big, 1, 0, rec_.cb(0));
  mc->get("big", rec_.cb(1));
  mc->set("huge", too_big, 1, 0, rec_.cb(2));
  mc->get_many({"big", "huge"}, rec_.cb(3));  // the connection goes on after the error
  ASSERT_TRUE(wait_calls(4));
  EXPECT_EQ(rec_.of(0).status, Status::kStored) << rec_.of(0).message;
  ASSERT_EQ(rec_.of(1).status, Status::kOk);
  ASSERT_EQ(rec_.of(1).values.size(), 1u);
  EXPECT_TRUE(rec_.of(1).values[0].data == big) << "the 1 MiB value came back different";
  EXPECT_EQ(rec_.of(2).status, Status::kServerError);
  EXPECT_EQ(rec_.of(2).message, "SERVER_ERROR object too large for cache");
  ASSERT_EQ(rec_.of(3).status, Status::kOk);
  ASSERT_EQ(rec_.of(3).values.size(), 1u);
  EXPECT_EQ(rec_.of(3).values[0].key, "big");
  EXPECT_TRUE(mc->is_open());
}

TEST_F(MemcacheTest, ServerKilledWithRequestsPendingFailsEachOnce) {
  auto mc = connect();
  mc->set("warm", "up", 0, 0, rec_.cb(-1));
  ASSERT_TRUE(wait_calls(1));  // connected and answering
  ASSERT_EQ(rec_.of(-1).status, Status::kStored);
  ASSERT_TRUE(server_.freeze());  // reads nothing from now on: no request below is answered
  constexpr int kRequests = 100;
  for (int i = 0; i < kRequests; ++i) {
    if (i % 2 == 0) {
      mc->set("k" + std::to_string(i), std::string(1000, 'v'), 0, 0, rec_.cb(i));
    } else {
      mc->get("k" + std::to_string(i - 1), rec_.cb(i));
    }
  }
  EXPECT_EQ(mc->pending_requests(), static_cast<size_t>(kRequests));
  server_.kill();
  ASSERT_TRUE(wait_calls(1 + kRequests));
  for (int i = 0; i < kRequests; ++i) {
    ASSERT_EQ(rec_.count(i), 1) << i;
    EXPECT_EQ(rec_.of(i).status, Status::kClosed) << i;
    EXPECT_FALSE(rec_.of(i).message.empty());
  }
  EXPECT_FALSE(mc->is_open());
  // No second call later, and a request on the closed client fails at once.
  for (int turn = 0; turn < 5; ++turn) loop_.poll(0.01);
  mc->get("late", rec_.cb(1000));
  EXPECT_EQ(rec_.calls.size(), static_cast<size_t>(kRequests + 2));
  EXPECT_EQ(rec_.of(1000).status, Status::kClosed);
}

TEST_F(MemcacheTest, CallbacksMayCloseAndRequestAgain) {
  auto mc = connect();
  mc->set("k", "v", 0, 0, [&](Result r) {
    rec_.calls.emplace_back(0, std::move(r));
    mc->close();  // request 1 is still pending: it fails now, inside this close()
  });
  mc->get("k", [&](Result r) {
    rec_.calls.emplace_back(1, std::move(r));
    mc->get("k", rec_.cb(2));  // on a closed client: fails at once
  });
  ASSERT_TRUE(wait_calls(3));
  EXPECT_EQ(rec_.of(0).status, Status::kStored);
  EXPECT_EQ(rec_.of(1).status, Status::kClosed);
  EXPECT_EQ(rec_.of(1).message, "closed by the client");
  EXPECT_EQ(rec_.of(2).status, Status::kClosed);
  EXPECT_EQ(rec_.calls.size(), 3u);
}

TEST_F(MemcacheTest, ExceptionInACallbackFailsTheOthers) {
  LogCapture logs;
  auto mc = connect();
  mc->get("a", [](Result) { throw std::runtime_error("callback exploded"); });
  mc->get("b", rec_.cb(1));
  ASSERT_TRUE(wait_calls(1));
  EXPECT_EQ(rec_.of(1).status, Status::kClosed);
  EXPECT_NE(rec_.of(1).message.find("callback exploded"), std::string::npos) << rec_.of(1).message;
  EXPECT_TRUE(logs.contains("callback exploded"));
}

TEST_F(MemcacheTest, DemoPrintsThePipelinedAnswers) {
  Child demo({asyncore::client_test::bin_path("memcache_demo"),
              "--server=127.0.0.1:" + std::to_string(server_.port()), "--key=demo:k"});
  const std::string out = demo.read_all();
  EXPECT_EQ(out,
            "set demo:k -> STORED\n"
            "get demo:k -> \"hello, memcached\" (flags 42)\n"
            "delete demo:k -> DELETED\n"
            "get demo:k -> not found\n");
  std::optional<int> status = demo.wait();
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
}

// ---------------------------------------------------------------- without a server

TEST(MemcacheKeys, KeyRules) {
  EXPECT_EQ(memcache::key_error("a"), "");
  EXPECT_EQ(memcache::key_error(std::string(250, 'k')), "");
  EXPECT_EQ(memcache::key_error("caf\xc3\xa9"), "");  // UTF-8 bytes are fine
  EXPECT_NE(memcache::key_error(""), "");
  EXPECT_NE(memcache::key_error(std::string(251, 'k')), "");
  EXPECT_NE(memcache::key_error("a b"), "");
  EXPECT_NE(memcache::key_error("a\tb"), "");
  EXPECT_NE(memcache::key_error("a\r\nb"), "");
  EXPECT_NE(memcache::key_error(std::string("a\0b", 3)), "");
  EXPECT_NE(memcache::key_error("a\x7f"), "");
}

TEST(MemcacheFake, InvalidKeysAreRefusedWithoutSending) {
  Recorder rec;
  Loop loop;
  FakeServer fake;
  auto mc = make_dispatcher<MemcacheClient>(loop, "127.0.0.1", fake.port());
  ASSERT_TRUE(fake.accept(loop));
  int id = 0;
  auto refused_now = [&](auto request) {
    const size_t before = rec.calls.size();
    request(rec.cb(id));
    EXPECT_EQ(rec.calls.size(), before + 1) << "request " << id << ": no callback before return";
    if (rec.calls.size() == before + 1) {
      EXPECT_EQ(rec.calls.back().second.status, Status::kInvalid) << id;
      EXPECT_FALSE(rec.calls.back().second.message.empty()) << id;
    }
    ++id;
  };
  refused_now([&](Callback cb) { mc->get("", std::move(cb)); });
  refused_now([&](Callback cb) { mc->get(std::string(251, 'k'), std::move(cb)); });
  refused_now([&](Callback cb) { mc->get("two words", std::move(cb)); });
  refused_now([&](Callback cb) { mc->get("inject\r\nflush_all", std::move(cb)); });
  refused_now([&](Callback cb) { mc->set("tab\tkey", "v", 0, 0, std::move(cb)); });
  refused_now([&](Callback cb) { mc->remove(std::string("nul\0key", 7), std::move(cb)); });
  refused_now([&](Callback cb) { mc->get_many({}, std::move(cb)); });
  refused_now([&](Callback cb) { mc->get_many({"fine", "not fine"}, std::move(cb)); });
  EXPECT_EQ(mc->pending_requests(), 0u);
  // The first bytes the server sees are the next valid request's.
  mc->get("good", rec.cb(100));
  std::optional<std::string> got = fake.read_until(loop, "\r\n");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, "get good\r\n");
  fake.send(loop, "END\r\n");
  ASSERT_TRUE(run_until(loop, [&] { return rec.count(100) == 1; }));
  EXPECT_EQ(rec.of(100).status, Status::kOk);
}

struct BadReply {
  const char* name;
  std::string bytes;   // the server's answer to "get k"
  const char* logged;  // a piece of the ERROR line the client must log
};

class MemcacheBadServer : public ::testing::TestWithParam<BadReply> {};

TEST_P(MemcacheBadServer, FailsPendingAndCloses) {
  LogCapture logs;
  Recorder rec;
  Loop loop;
  FakeServer fake;
  auto mc = make_dispatcher<MemcacheClient>(loop, "127.0.0.1", fake.port());
  mc->get("k", rec.cb(0));
  mc->set("k", "v", 0, 0, rec.cb(1));  // pending behind it: must fail too
  ASSERT_TRUE(fake.accept(loop));
  ASSERT_TRUE(fake.read_until(loop, "set k 0 0 1\r\nv\r\n").has_value());
  fake.send(loop, GetParam().bytes);
  ASSERT_TRUE(run_until(loop, [&] { return rec.calls.size() == 2; }));
  EXPECT_EQ(rec.count(0), 1);
  EXPECT_EQ(rec.count(1), 1);
  EXPECT_EQ(rec.of(0).status, Status::kClosed);
  EXPECT_EQ(rec.of(1).status, Status::kClosed);
  EXPECT_NE(rec.of(0).message.find(GetParam().logged), std::string::npos) << rec.of(0).message;
  EXPECT_TRUE(logs.contains(GetParam().logged));
  EXPECT_FALSE(mc->is_open());
  EXPECT_TRUE(fake.client_closed(loop));
}

INSTANTIATE_TEST_SUITE_P(
    Replies, MemcacheBadServer,
    ::testing::Values(BadReply{"Garbage", "HELLO THERE\r\n", "reply 'HELLO THERE' to a get"},
                      BadReply{"StoredToAGet", "STORED\r\n", "reply 'STORED' to a get"},
                      BadReply{"AbsurdLength", "VALUE k 0 99999999999999\r\n",
                               "VALUE of 99999999999999 bytes for key 'k', above the limit"},
                      BadReply{"OverflowingLength", "VALUE k 0 99999999999999999999999\r\n",
                               "unparseable VALUE line"},
                      BadReply{"NegativeLength", "VALUE k 0 -1\r\n", "unparseable VALUE line"},
                      BadReply{"MissingLength", "VALUE k 0\r\n", "unparseable VALUE line"},
                      BadReply{"UnexpectedKey", "VALUE other 0 1\r\nx\r\nEND\r\n",
                               "VALUE for key 'other', which the get did not ask for"},
                      BadReply{"DataNotFollowedByCrlf", "VALUE k 0 3\r\nabcXYEND\r\n",
                               "data block of key 'k' not followed by \\r\\n"},
                      BadReply{"EndlessLine", std::string(5000, 'x'),
                               "reply line longer than 2048 bytes"},
                      BadReply{"GarbageAfterTheValue", "VALUE k 0 1\r\nx\r\nBOGUS\r\n",
                               "reply 'BOGUS' to a get"}),
    [](const ::testing::TestParamInfo<BadReply>& info) { return std::string(info.param.name); });

TEST(MemcacheFake, UnsolicitedReplyClosesTheConnection) {
  LogCapture logs;
  Recorder rec;
  Loop loop;
  FakeServer fake;
  auto mc = make_dispatcher<MemcacheClient>(loop, "127.0.0.1", fake.port());
  mc->get("k", rec.cb(0));
  ASSERT_TRUE(fake.accept(loop));
  ASSERT_TRUE(fake.read_until(loop, "get k\r\n").has_value());
  fake.send(loop, "END\r\nDELETED\r\n");  // one answer too many
  ASSERT_TRUE(run_until(loop, [&] { return !mc->is_open(); }));
  EXPECT_EQ(rec.count(0), 1);
  EXPECT_EQ(rec.of(0).status, Status::kOk);  // the real answer arrived first
  EXPECT_TRUE(logs.contains("protocol error: reply 'DELETED' with no request pending"));
  EXPECT_EQ(mc->close_reason(), "protocol error: reply 'DELETED' with no request pending");
  EXPECT_TRUE(fake.client_closed(loop));
}

TEST(MemcacheFake, ServerClosingInsideAValueFailsTheRequest) {
  Recorder rec;
  Loop loop;
  FakeServer fake;
  auto mc = make_dispatcher<MemcacheClient>(loop, "127.0.0.1", fake.port());
  mc->get("k", rec.cb(0));
  ASSERT_TRUE(fake.accept(loop));
  ASSERT_TRUE(fake.read_until(loop, "get k\r\n").has_value());
  fake.send(loop, "VALUE k 0 10\r\nabc");
  fake.close_connection();
  ASSERT_TRUE(run_until(loop, [&] { return rec.calls.size() == 1; }));
  EXPECT_EQ(rec.of(0).status, Status::kClosed);
  EXPECT_NE(rec.of(0).message.find("closed the connection"), std::string::npos)
      << rec.of(0).message;
  EXPECT_FALSE(mc->is_open());
}

TEST(MemcacheFake, ConnectionRefusedFailsEveryRequestOnce) {
  Recorder rec;
  Loop loop;
  const uint16_t port = free_port();  // nobody listens there
  auto mc = make_dispatcher<MemcacheClient>(loop, "127.0.0.1", port);
  mc->set("a", "1", 0, 0, rec.cb(0));
  mc->get("a", rec.cb(1));
  mc->remove("a", rec.cb(2));
  ASSERT_TRUE(run_until(loop, [&] { return rec.calls.size() == 3; }));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(rec.calls[i].first, i);
    EXPECT_EQ(rec.calls[i].second.status, Status::kClosed);
    EXPECT_NE(rec.calls[i].second.message.find("Connection refused"), std::string::npos)
        << rec.calls[i].second.message;
  }
  EXPECT_TRUE(mc->connect_failed());
  loop.loop(0.01, 5);  // nothing more comes
  EXPECT_EQ(rec.calls.size(), 3u);
}

TEST(MemcacheFake, HighWaterMarkClosesAndFailsEveryRequest) {
  LogCapture logs;
  Recorder rec;
  Loop loop;
  FakeServer fake;  // accepts, never reads
  auto mc = make_dispatcher<MemcacheClient>(loop, "127.0.0.1", fake.port());
  ASSERT_TRUE(fake.accept(loop));
  ASSERT_TRUE(run_until(loop, [&] { return mc->connected(); }));
  mc->set_high_water_mark(1024 * 1024);
  const std::string value(256 * 1024, 'v');
  int sent = 0;
  while (mc->is_open() && sent < 400) mc->set("k", value, 0, 0, rec.cb(sent++));
  ASSERT_FALSE(mc->is_open()) << "100 MB queued without crossing the mark";
  ASSERT_EQ(rec.calls.size(), static_cast<size_t>(sent));
  for (int i = 0; i < sent; ++i) {
    EXPECT_EQ(rec.count(i), 1) << i;
    EXPECT_EQ(rec.of(i).status, Status::kClosed) << i;
  }
  EXPECT_TRUE(logs.contains("above the high-water mark"));
}

TEST(MemcacheFake, DestroyingAnOwnedClientFailsWhatIsPending) {
  Recorder rec;
  Loop loop;
  FakeServer fake;
  auto mc = std::make_unique<MemcacheClient>(loop, "127.0.0.1", fake.port());  // owned here
  mc->get("a", rec.cb(0));
  mc->get("b", rec.cb(1));
  ASSERT_TRUE(fake.accept(loop));
  ASSERT_TRUE(fake.read_until(loop, "get b\r\n").has_value());
  mc.reset();
  ASSERT_EQ(rec.calls.size(), 2u);
  EXPECT_EQ(rec.of(0).status, Status::kClosed);
  EXPECT_EQ(rec.of(1).status, Status::kClosed);
  EXPECT_TRUE(fake.client_closed(loop));
}

TEST(MemcacheDemo, UnreachableServerIsAClearError) {
  const std::string server = "127.0.0.1:" + std::to_string(free_port());
  Child demo({"/bin/sh", "-c",
              "exec " + asyncore::client_test::bin_path("memcache_demo") + " --server=" + server +
                  " 2>&1"});
  const std::string out = demo.read_all();
  EXPECT_NE(out.find("memcache_demo: cannot reach " + server), std::string::npos) << out;
  EXPECT_NE(out.find("Connection refused"), std::string::npos) << out;
  std::optional<int> status = demo.wait();
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 1) << *status;
}

TEST(MemcacheDemo, SilentServerTimesOut) {
  FakeServer fake;  // the kernel accepts the connection; nobody ever answers
  Child demo({"/bin/sh", "-c",
              "exec " + asyncore::client_test::bin_path("memcache_demo") +
                  " --timeout=0.3 --server=127.0.0.1:" + std::to_string(fake.port()) + " 2>&1"});
  const std::string out = demo.read_all();
  EXPECT_NE(out.find("no answer from 127.0.0.1:"), std::string::npos) << out;
  std::optional<int> status = demo.wait();
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 1) << *status;
}

// docs/your-own-protocol.md quotes the sample: every ```cpp block in it must appear, verbatim, in
// memcache_client.h, memcache_client.cc or memcache_demo.cc, so the chapter cannot drift from the
// code it teaches.
TEST(MemcacheDoc, ChapterQuotesTheRealCode) {
  auto read = [](const std::string& rel) {
    std::ifstream in(asyncore::client_test::source_path(rel), std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const std::string code = read("samples/memcache/memcache_client.h") +
                           read("samples/memcache/memcache_client.cc") +
                           read("samples/memcache/memcache_demo.cc");
  const std::string doc = read("docs/your-own-protocol.md");
  ASSERT_FALSE(code.empty());
  ASSERT_FALSE(doc.empty());
  int blocks = 0;
  for (size_t at = doc.find("```cpp\n"); at != std::string::npos; at = doc.find("```cpp\n", at)) {
    at += 7;
    const size_t end = doc.find("```\n", at);
    ASSERT_NE(end, std::string::npos) << "unterminated ```cpp block";
    const std::string block = doc.substr(at, end - at);
    EXPECT_NE(code.find(block), std::string::npos)
        << "this block of docs/your-own-protocol.md is not in the sample any more:\n"
        << block;
    ++blocks;
    at = end;
  }
  EXPECT_GE(blocks, 8) << "the chapter builds the client up in steps";
}

}  // namespace

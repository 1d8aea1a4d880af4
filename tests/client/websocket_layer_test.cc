// WebSocketLayer (client/websocket.h) driven by hand over in-memory ByteStreams, the peer's side
// written and checked with the tests' own frame codec (websocket_test_util.h): the upgrade (also
// one byte at a time), masking, fragmentation, several messages per read, ping/pong, the close
// handshake from either side, refusals (1009, 1007, 1002), back-pressure, the end of the stream
// below, server mode, and a client and a server layer talking to each other.
#include <errno.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "client/websocket.h"
#include "tests/client/websocket_test_util.h"

namespace asyncore {
namespace {

using ::testing::HasSubstr;
using ws_test::Frame;
using ws_test::frame;
using ws_test::key_of;
using ws_test::MemoryStream;
using ws_test::next_frame;
using ws_test::response_for;

const LayerPeer kPeer{"127.0.0.1", 8080, false};

// A client layer on a MemoryStream, upgraded; `first` arrives right after the 101.
struct Client {
  explicit Client(WebSocketOptions options = {}, const std::string& first = {})
      : ws(WebSocketLayer::client(std::move(options))) {
    ws->start(kPeer);
    EXPECT_FALSE(ws->handshake(below));
    request = below.take_out();
    below.in = response_for(request) + first;
    EXPECT_TRUE(ws->handshake(below));
    EXPECT_TRUE(ws->established());
  }
  // Reads until -1 or 0; returns everything read (end: the last return value).
  std::string read_all(ssize_t* end = nullptr, int* err = nullptr) {
    std::string got;
    char buf[7];  // small on purpose: reads split messages
    for (;;) {
      int e = 0;
      ssize_t n = ws->read(below, buf, sizeof buf, &e);
      if (n > 0) {
        got.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (end) *end = n;
      if (err) *err = e;
      return got;
    }
  }
  std::vector<Frame> sent_frames() {
    std::string out = below.take_out();
    std::vector<Frame> frames;
    while (auto f = next_frame(out)) frames.push_back(*f);
    EXPECT_TRUE(out.empty()) << "trailing partial frame";
    return frames;
  }
  MemoryStream below;
  std::unique_ptr<WebSocketLayer> ws;
  std::string request;
};

template <class Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

TEST(WebSocketLayerTest, ClientRequestAndHostHeader) {
  Client c(WebSocketOptions{.path = "/sub?x=1", .origin = "http://o.example"});
  EXPECT_EQ(c.request.rfind("GET /sub?x=1 HTTP/1.1\r\n", 0), 0u) << c.request;
  EXPECT_THAT(c.request, HasSubstr("\r\nHost: 127.0.0.1:8080\r\n"));
  EXPECT_THAT(c.request, HasSubstr("\r\nOrigin: http://o.example\r\n"));
  EXPECT_EQ(c.ws->upgrade_head().status, 101);

  auto host_of = [](const LayerPeer& peer, WebSocketOptions o = {}) {
    auto ws = WebSocketLayer::client(std::move(o));
    MemoryStream m;
    ws->start(peer);
    ws->handshake(m);
    auto at = m.out.find("Host: ") + 6;
    return m.out.substr(at, m.out.find("\r\n", at) - at);
  };
  EXPECT_EQ(host_of({"example.com", 80, false}), "example.com");
  EXPECT_EQ(host_of({"example.com", 443, true}), "example.com");
  EXPECT_EQ(host_of({"example.com", 443, false}), "example.com:443");
  EXPECT_EQ(host_of({"::1", 8080, false}), "[::1]:8080");
  EXPECT_EQ(host_of({"10.0.0.1", 8601, false}, {.host = "danmu.example"}), "danmu.example");
}

TEST(WebSocketLayerTest, ResponseOneByteAtATimeWithFramesBehindIt) {
  auto ws = WebSocketLayer::client();
  MemoryStream below;
  below.read_chunk = 1;
  ws->start(kPeer);
  EXPECT_FALSE(ws->handshake(below));
  below.in = response_for(below.take_out()) + frame(ws_test::kBinary, "first");
  int steps = 0;
  while (!ws->handshake(below)) ASSERT_LT(++steps, 10000);
  EXPECT_TRUE(ws->established());
  EXPECT_TRUE(ws->has_pending() || !below.all_read());
  std::string got;
  char buf[16];
  int err = 0;
  for (int i = 0; i < 100 && got.size() < 5; ++i) {
    ssize_t n = ws->read(below, buf, sizeof buf, &err);
    if (n > 0) got.append(buf, static_cast<size_t>(n));
  }
  EXPECT_EQ(got, "first");
}

TEST(WebSocketLayerTest, RefusedUpgradeThrowsClearError) {
  auto ws = WebSocketLayer::client();
  MemoryStream below;
  ws->start(kPeer);
  ws->handshake(below);
  below.in = "HTTP/1.1 403 Forbidden\r\n\r\n";
  EXPECT_EQ(error_of([&] { ws->handshake(below); }),
            "WebSocket upgrade refused by 127.0.0.1:8080: HTTP 403 Forbidden");
  // start() begins anew (a reconnect): a fresh request with a fresh key.
  std::string first_key = key_of(below.take_out());
  ws->start(kPeer);
  below.in.clear();
  below.in_pos = 0;
  EXPECT_FALSE(ws->handshake(below));
  EXPECT_NE(key_of(below.out), first_key);
  EXPECT_FALSE(ws->established());
}

TEST(WebSocketLayerTest, ConnectionClosedDuringUpgrade) {
  auto ws = WebSocketLayer::client();
  MemoryStream below;
  ws->start(kPeer);
  ws->handshake(below);
  below.in = "HTTP/1.1 101 Swi";
  below.ended = true;
  EXPECT_EQ(error_of([&] { ws->handshake(below); }),
            "WebSocket upgrade with 127.0.0.1:8080 failed: connection closed during the upgrade");
}

TEST(WebSocketLayerTest, ClientFramesAreMaskedBinaryByDefault) {
  Client c;
  int err = 0;
  EXPECT_EQ(c.ws->write(c.below, "hello", 5, &err), 5u);
  EXPECT_EQ(c.ws->write(c.below, "world!", 6, &err), 6u);
  EXPECT_EQ(err, 0);
  std::string raw = c.below.out;
  auto frames = c.sent_frames();
  ASSERT_EQ(frames.size(), 2u);  // one message per write
  EXPECT_TRUE(frames[0].masked);
  EXPECT_TRUE(frames[0].fin);
  EXPECT_EQ(frames[0].opcode, ws_test::kBinary);
  EXPECT_EQ(frames[0].payload, "hello");
  EXPECT_EQ(frames[1].payload, "world!");
  // On the wire the payload is masked, not in clear.
  EXPECT_EQ(raw.find("hello"), std::string::npos);

  Client t(WebSocketOptions{.send_text = true});
  EXPECT_EQ(t.ws->write(t.below, "{}", 2, &err), 2u);
  auto tf = t.sent_frames();
  ASSERT_EQ(tf.size(), 1u);
  EXPECT_EQ(tf[0].opcode, ws_test::kText);
}

TEST(WebSocketLayerTest, FragmentedMessageReassembled) {
  std::string in = frame(ws_test::kText, "Hel", false) + frame(ws_test::kCont, "lo, ", false) +
                   frame(ws_test::kPing, "mid") +  // a control frame between fragments
                   frame(ws_test::kCont, "world", true);
  Client c({}, in);
  EXPECT_EQ(c.read_all(), "Hello, world");
  std::vector<WebSocketMessage> got;
  Client m({.on_message = [&](WebSocketMessage&& msg) { got.push_back(std::move(msg)); }}, in);
  ssize_t end = 0;
  EXPECT_EQ(m.read_all(&end), "");
  EXPECT_EQ(end, -1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].is_text());
  EXPECT_EQ(got[0].data, "Hello, world");
}

TEST(WebSocketLayerTest, SeveralMessagesInOneRead) {
  std::string in = frame(ws_test::kBinary, "one|") + frame(ws_test::kText, "two|") +
                   frame(ws_test::kBinary, std::string(70000, 'x')) +
                   frame(ws_test::kBinary, "|end");
  Client c({}, in);
  char buf[100];
  int err = 0;
  ssize_t n = c.ws->read(c.below, buf, sizeof buf, &err);
  ASSERT_EQ(n, 100);  // one read spans several messages
  EXPECT_EQ(std::string(buf, 8), "one|two|");
  std::string rest = c.read_all();
  EXPECT_EQ(rest.size(), 70000u - 92 + 4);
  EXPECT_EQ(rest.substr(rest.size() - 4), "|end");

  std::vector<WebSocketMessage> got;
  Client m({.on_message = [&](WebSocketMessage&& msg) { got.push_back(std::move(msg)); }}, in);
  m.read_all();
  ASSERT_EQ(got.size(), 4u);
  EXPECT_FALSE(got[0].is_text());
  EXPECT_EQ(got[0].data, "one|");
  EXPECT_TRUE(got[1].is_text());
  EXPECT_EQ(got[2].data.size(), 70000u);
  EXPECT_EQ(got[3].data, "|end");
}

TEST(WebSocketLayerTest, PingAnsweredWithPong) {
  Client c({}, frame(ws_test::kPing, "are you there"));
  ssize_t end = 0;
  EXPECT_EQ(c.read_all(&end), "");
  EXPECT_EQ(end, -1);
  auto frames = c.sent_frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].opcode, ws_test::kPong);
  EXPECT_TRUE(frames[0].masked);
  EXPECT_EQ(frames[0].payload, "are you there");
  // Our ping goes out too, and the peer's pong is absorbed.
  EXPECT_TRUE(c.ws->ping("p"));
  int err = 0;
  c.ws->flush(c.below, &err);
  frames = c.sent_frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].opcode, ws_test::kPing);
  c.below.in += frame(ws_test::kPong, "p");
  EXPECT_EQ(c.read_all(&end), "");
  EXPECT_EQ(end, -1);
}

TEST(WebSocketLayerTest, PeerCloseAnsweredThenEnd) {
  Client c({}, frame(ws_test::kBinary, "last") +
                   frame(ws_test::kClose, ws_test::close_payload(1001, "going away")));
  ssize_t end = 5;
  int err = -1;
  EXPECT_EQ(c.read_all(&end, &err), "last");  // data first, then the end
  EXPECT_EQ(end, 0);
  EXPECT_EQ(err, 0);
  EXPECT_EQ(c.ws->close_code(), 1001);
  EXPECT_EQ(c.ws->close_reason(), "going away");
  EXPECT_TRUE(c.ws->close_received());
  auto frames = c.sent_frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].opcode, ws_test::kClose);
  EXPECT_EQ(frames[0].close_code(), 1001);  // wslay echoes the code
  // Writing after the close: broken pipe, as after shutdown(SHUT_WR).
  EXPECT_EQ(c.ws->write(c.below, "x", 1, &err), 0u);
  EXPECT_EQ(err, EPIPE);
}

TEST(WebSocketLayerTest, PeerCloseReplyWaitsUntilFlushed) {
  Client c;
  c.below.capacity = 0;  // the peer does not read: the reply cannot go out
  c.below.in += frame(ws_test::kClose, ws_test::close_payload(1000));
  ssize_t end = 0;
  c.read_all(&end);
  EXPECT_EQ(end, -1);
  EXPECT_TRUE(c.ws->wants_write());
  EXPECT_FALSE(c.ws->has_pending());
  c.below.capacity = SIZE_MAX;
  int err = 0;
  c.ws->flush(c.below, &err);
  EXPECT_FALSE(c.ws->wants_write());
  EXPECT_TRUE(c.ws->has_pending());  // the end is due
  c.read_all(&end, &err);
  EXPECT_EQ(end, 0);
  EXPECT_FALSE(c.ws->has_pending());
}

TEST(WebSocketLayerTest, CloseInitiatedByUsWithStatus) {
  Client c;
  EXPECT_TRUE(c.ws->close(4000, "done here"));
  EXPECT_FALSE(c.ws->close(4001));  // once
  EXPECT_TRUE(c.ws->wants_write());
  int err = 0;
  c.ws->flush(c.below, &err);
  EXPECT_TRUE(c.ws->close_sent());
  auto frames = c.sent_frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].opcode, ws_test::kClose);
  EXPECT_EQ(frames[0].close_code(), 4000);
  EXPECT_EQ(frames[0].payload.substr(2), "done here");
  // Data still arriving before the peer's reply is delivered; then the end.
  c.below.in +=
      frame(ws_test::kBinary, "late") + frame(ws_test::kClose, ws_test::close_payload(4000));
  ssize_t end = 5;
  EXPECT_EQ(c.read_all(&end, &err), "late");
  EXPECT_EQ(end, 0);
  EXPECT_EQ(c.ws->close_code(), 4000);
  EXPECT_TRUE(c.sent_frames().empty());  // no second close
}

TEST(WebSocketLayerTest, CloseGoesOutAfterQueuedMessages) {
  Client c;
  c.below.capacity = c.below.out.size();  // nothing goes out for now
  EXPECT_TRUE(c.ws->send_text("one"));
  EXPECT_TRUE(c.ws->send_text("two"));
  EXPECT_TRUE(c.ws->close(4002));
  EXPECT_FALSE(c.ws->send_text("three"));  // nothing after the close
  int err = 0;
  EXPECT_EQ(c.ws->write(c.below, "x", 1, &err), 0u);
  EXPECT_EQ(err, EPIPE);
  c.below.capacity = SIZE_MAX;
  c.ws->flush(c.below, &err);
  auto frames = c.sent_frames();
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[0].payload, "one");
  EXPECT_EQ(frames[1].payload, "two");
  EXPECT_EQ(frames[2].opcode, ws_test::kClose);
  EXPECT_EQ(frames[2].close_code(), 4002);
  EXPECT_FALSE(c.ws->wants_write());
}

TEST(WebSocketLayerTest, ShutdownSendsNormalClosure) {
  Client c;
  c.ws->shutdown(c.below);
  auto frames = c.sent_frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].opcode, ws_test::kClose);
  EXPECT_EQ(frames[0].close_code(), 1000);
  c.ws->shutdown(c.below);  // idempotent
  EXPECT_TRUE(c.sent_frames().empty());
}

TEST(WebSocketLayerTest, OversizedMessageRefusedWith1009) {
  Client c({.max_message_size = 10},
           frame(ws_test::kBinary, "0123456789") + frame(ws_test::kBinary, "0123456789A"));
  char buf[64];
  int err = 0;
  ASSERT_EQ(c.ws->read(c.below, buf, sizeof buf, &err), 10);  // at the limit: fine
  EXPECT_EQ(error_of([&] { c.ws->read(c.below, buf, sizeof buf, &err); }),
            "WebSocket message from 127.0.0.1:8080 over the 10-byte limit: closed with 1009 "
            "(message too big)");
  auto frames = c.sent_frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].close_code(), 1009);
  EXPECT_FALSE(c.ws->has_pending());
  EXPECT_EQ(c.ws->read(c.below, buf, sizeof buf, &err), 0);  // no second throw

  // Fragments adding up past the limit are refused as well, before the payload is buffered.
  Client f({.max_message_size = 10},
           frame(ws_test::kBinary, "012345", false) + frame(ws_test::kCont, "6789A", true));
  EXPECT_THAT(error_of([&] { f.read_all(); }), HasSubstr("closed with 1009"));
  // The default limit is 16 MiB; a header announcing more is refused before the payload.
  std::string huge = frame(ws_test::kBinary, "").substr(0, 1);
  huge += static_cast<char>(127);
  for (int i = 7; i >= 0; --i) huge += static_cast<char>(((16ull << 20) + 1) >> (8 * i));
  huge += "first payload byte";  // wslay looks at the header with the payload's first bytes
  Client d({}, huge);
  EXPECT_EQ(error_of([&] { d.read_all(); }),
            "WebSocket message from 127.0.0.1:8080 over the 16777216-byte limit: closed with 1009 "
            "(message too big)");
}

TEST(WebSocketLayerTest, InvalidUtf8AndBadFramesRefused) {
  Client u({}, frame(ws_test::kText, "caf\xc3"));
  EXPECT_EQ(error_of([&] { u.read_all(); }),
            "WebSocket text message from 127.0.0.1:8080 not UTF-8: closed with 1007 (invalid "
            "payload)");
  EXPECT_EQ(u.sent_frames().at(0).close_code(), 1007);
  // A server must not mask.
  Client m({}, frame(ws_test::kBinary, "x", true, 0x01020304));
  EXPECT_EQ(error_of([&] { m.read_all(); }),
            "WebSocket protocol error from 127.0.0.1:8080: closed with 1002 (bad frame)");
  // A reserved opcode.
  Client r({}, std::string("\x83\x00", 2));
  EXPECT_THAT(error_of([&] { r.read_all(); }), HasSubstr("closed with 1002"));
}

TEST(WebSocketLayerTest, ProtocolErrorReportedEvenWhenCloseCannotBeSent) {
  Client c({.max_message_size = 4});
  c.below.capacity = 0;
  c.below.in += frame(ws_test::kBinary, "12345");
  EXPECT_THAT(error_of([&] { c.read_all(); }), HasSubstr("closed with 1009"));
  EXPECT_FALSE(c.ws->wants_write());  // nothing left to spin on
}

TEST(WebSocketLayerTest, BackPressureOnQueuedBytes) {
  Client c({.max_queued_bytes = 100});
  c.below.capacity = c.below.out.size();  // the peer reads nothing
  int err = 0;
  std::string sixty(60, 'a');
  EXPECT_EQ(c.ws->write(c.below, sixty.data(), 60, &err), 60u);
  EXPECT_EQ(c.ws->write(c.below, sixty.data(), 60, &err), 40u);  // up to the bound
  EXPECT_EQ(c.ws->write(c.below, "x", 1, &err), 0u);
  EXPECT_EQ(err, 0);  // not broken: later
  EXPECT_FALSE(c.ws->send_text("x"));
  EXPECT_EQ(c.ws->queued_bytes(), 100u);
  EXPECT_TRUE(c.ws->wants_write());
  // The peer reads: the queue drains and send() takes bytes again.
  c.below.capacity = SIZE_MAX;
  c.ws->flush(c.below, &err);
  EXPECT_EQ(c.ws->queued_bytes(), 0u);
  EXPECT_FALSE(c.ws->wants_write());
  EXPECT_EQ(c.ws->write(c.below, "x", 1, &err), 1u);
  auto frames = c.sent_frames();
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[1].payload, std::string(40, 'a'));
  // An empty queue takes one message of any size whole.
  EXPECT_TRUE(c.ws->send_binary(std::string(1000, 'b')));
}

TEST(WebSocketLayerTest, EndOfStreamWithoutCloseIs1006) {
  Client c({}, frame(ws_test::kBinary, "partial"));
  c.below.in += std::string(
      "\x82\x05"
      "ab");  // a frame cut short
  c.below.ended = true;
  ssize_t end = 5;
  int err = -1;
  EXPECT_EQ(c.read_all(&end, &err), "partial");
  EXPECT_EQ(end, 0);
  EXPECT_EQ(err, 0);
  EXPECT_EQ(c.ws->close_code(), 1006);
  EXPECT_FALSE(c.ws->close_received());

  Client r;
  r.below.ended = true;
  r.below.read_errno = ECONNRESET;
  r.read_all(&end, &err);
  EXPECT_EQ(end, 0);
  EXPECT_EQ(err, ECONNRESET);
}

TEST(WebSocketLayerTest, ServerModeHandshakeAndUnmaskedFrames) {
  auto ws = WebSocketLayer::server({.subprotocols = {"json"}});
  MemoryStream below;
  ws->start({"127.0.0.1", 40000, false});
  EXPECT_FALSE(ws->handshake(below));
  below.in =
      "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
      "Sec-WebSocket-Protocol: json\r\n\r\n" +
      frame(ws_test::kText, "{\"a\":1}", true, 0xdeadbeef);
  EXPECT_TRUE(ws->handshake(below));
  EXPECT_THAT(below.out, HasSubstr("\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
  EXPECT_EQ(ws->subprotocol(), "json");
  EXPECT_EQ(ws->upgrade_head().target, "/ws");
  below.out.clear();
  char buf[64];
  int err = 0;
  ssize_t n = ws->read(below, buf, sizeof buf, &err);
  ASSERT_EQ(n, 7);
  EXPECT_EQ(std::string(buf, 7), "{\"a\":1}");
  EXPECT_EQ(ws->write(below, "ok", 2, &err), 2u);
  std::string out = below.out;
  auto f = next_frame(out);
  ASSERT_TRUE(f);
  EXPECT_FALSE(f->masked);  // a server does not mask
  EXPECT_EQ(f->payload, "ok");
  // A client frame without a mask is a protocol error.
  below.in += frame(ws_test::kBinary, "x");
  EXPECT_THAT(error_of([&] { ws->read(below, buf, sizeof buf, &err); }),
              HasSubstr("closed with 1002"));
}

TEST(WebSocketLayerTest, ServerRefusesBadUpgradeWith400) {
  auto ws = WebSocketLayer::server();
  MemoryStream below;
  ws->start({"127.0.0.1", 40000, false});
  below.in = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  EXPECT_EQ(error_of([&] { ws->handshake(below); }),
            "WebSocket upgrade from 127.0.0.1:40000 refused: no Upgrade: websocket");
  EXPECT_EQ(below.out.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u);
}

// A client layer and a server layer joined by two MemoryStreams.
TEST(WebSocketLayerTest, ClientAndServerLayersTalk) {
  std::vector<WebSocketMessage> at_server;
  auto client = WebSocketLayer::client({.subprotocols = {"v2", "v1"}});
  auto server =
      WebSocketLayer::server({.subprotocols = {"v1"}, .on_message = [&](WebSocketMessage&& m) {
                                at_server.push_back(std::move(m));
                              }});
  // Each side's own MemoryStream; pump() carries what one wrote to the other's input.
  MemoryStream client_below, server_below;
  auto pump = [&] {
    client_below.in += server_below.take_out();
    server_below.in += client_below.take_out();
  };
  client->start({"localhost", 9000, false});
  server->start({"127.0.0.1", 50000, false});
  for (int i = 0; i < 10 && !(client->established() && server->established()); ++i) {
    client->handshake(client_below);
    server->handshake(server_below);
    pump();
  }
  ASSERT_TRUE(client->established());
  ASSERT_TRUE(server->established());
  EXPECT_EQ(client->subprotocol(), "v1");
  int err = 0;
  EXPECT_TRUE(client->send_text("{\"hello\":1}"));
  EXPECT_TRUE(client->send_binary(std::string("\0\1", 2)));
  client->flush(client_below, &err);
  pump();
  char buf[64];
  EXPECT_EQ(server->read(server_below, buf, sizeof buf, &err), -1);
  ASSERT_EQ(at_server.size(), 2u);
  EXPECT_TRUE(at_server[0].is_text());
  EXPECT_EQ(at_server[0].data, "{\"hello\":1}");
  EXPECT_EQ(at_server[1].data, std::string("\0\1", 2));
  // The server closes; the client answers and ends; the server sees the answer and ends.
  EXPECT_TRUE(server->close(1001, "restart"));
  server->flush(server_below, &err);
  pump();
  EXPECT_EQ(client->read(client_below, buf, sizeof buf, &err), 0);
  EXPECT_EQ(client->close_code(), 1001);
  EXPECT_EQ(client->close_reason(), "restart");
  pump();
  EXPECT_EQ(server->read(server_below, buf, sizeof buf, &err), 0);
  EXPECT_EQ(err, 0);
  EXPECT_EQ(server->close_code(), 1001);
}

}  // namespace
}  // namespace asyncore

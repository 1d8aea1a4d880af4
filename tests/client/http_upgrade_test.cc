// The WebSocket HTTP upgrade as pure code (client/http_upgrade.h): the request a client builds, the
// response checked whole and one byte at a time, tolerance (case, token lists, folding, bare LF),
// each refusal's text, the header cap, and the server side's 101 / 400 / 426.
#include "client/http_upgrade.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace asyncore {
namespace {

using ::testing::HasSubstr;

// The text of the runtime_error fn() throws; "" when it throws nothing.
template <class Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

UpgradeRequest basic_request() {
  UpgradeRequest r;
  r.host = "127.0.0.1:8080";
  r.path = "/chat?room=1";
  return r;
}

std::string ok_response(const UpgradeClient& c, const std::string& extra = {}) {
  return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Accept: " +
         websocket_accept_value(c.key()) + "\r\n" + extra + "\r\n";
}

TEST(HttpUpgradeTest, AcceptValueIsRfc6455Example) {
  // RFC 6455, section 1.3.
  EXPECT_EQ(websocket_accept_value("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(HttpUpgradeTest, NewKeysAreBase64Of16RandomBytes) {
  std::string a = websocket_new_key(), b = websocket_new_key();
  EXPECT_EQ(a.size(), 24u);
  EXPECT_EQ(a.substr(22), "==");
  EXPECT_NE(a, b);
}

TEST(HttpUpgradeTest, RequestCarriesTheRequiredHeaders) {
  UpgradeRequest r = basic_request();
  r.origin = "http://example.com";
  r.subprotocols = {"json.v1", "json.v0"};
  r.extra_headers = {{"Cookie", "a=b"}};
  UpgradeClient c("127.0.0.1:8080", r);
  const std::string& q = c.request();
  EXPECT_EQ(q.rfind("GET /chat?room=1 HTTP/1.1\r\n", 0), 0u) << q;
  EXPECT_THAT(q, HasSubstr("\r\nHost: 127.0.0.1:8080\r\n"));
  EXPECT_THAT(q, HasSubstr("\r\nUpgrade: websocket\r\n"));
  EXPECT_THAT(q, HasSubstr("\r\nConnection: Upgrade\r\n"));
  EXPECT_THAT(q, HasSubstr("\r\nSec-WebSocket-Key: " + c.key() + "\r\n"));
  EXPECT_THAT(q, HasSubstr("\r\nSec-WebSocket-Version: 13\r\n"));
  EXPECT_THAT(q, HasSubstr("\r\nOrigin: http://example.com\r\n"));
  EXPECT_THAT(q, HasSubstr("\r\nSec-WebSocket-Protocol: json.v1, json.v0\r\n"));
  EXPECT_THAT(q, HasSubstr("\r\nCookie: a=b\r\n"));
  EXPECT_EQ(q.substr(q.size() - 4), "\r\n\r\n");
  // A fresh key per client.
  EXPECT_NE(UpgradeClient("x", r).key(), c.key());
}

TEST(HttpUpgradeTest, ResponseAcceptedAndFollowingBytesKept) {
  UpgradeClient c("127.0.0.1:8080", basic_request());
  EXPECT_TRUE(c.feed(ok_response(c) + "\x81\x02hi"));
  EXPECT_TRUE(c.done());
  EXPECT_EQ(c.response().status, 101);
  EXPECT_EQ(c.take_leftover(), "\x81\x02hi");
}

TEST(HttpUpgradeTest, ResponseInOneByteChunks) {
  UpgradeClient c("127.0.0.1:8080", basic_request());
  std::string all = ok_response(c);
  size_t header_size = all.size();
  all += "\x82\x01z";
  for (size_t i = 0; i < all.size(); ++i) {
    bool done = c.feed(all.substr(i, 1));
    EXPECT_EQ(done, i + 1 >= header_size) << "after byte " << i;
  }
  EXPECT_EQ(c.take_leftover(), "\x82\x01z");
}

TEST(HttpUpgradeTest, ToleratesCaseTokenListsFoldingAndBareLf) {
  UpgradeClient c("127.0.0.1:8080", basic_request());
  std::string r =
      "HTTP/1.1 101 Switching Protocols\n"
      "upgrade:   WebSocket  \n"
      "CONNECTION: keep-alive,\n"
      "  Upgrade\n"
      "sec-websocket-accept:" +
      websocket_accept_value(c.key()) + "\n\n";
  EXPECT_TRUE(c.feed(r));
  EXPECT_EQ(c.response().get("connection"), "keep-alive, Upgrade");
}

TEST(HttpUpgradeTest, BadAcceptRefused) {
  UpgradeClient c("127.0.0.1:8080", basic_request());
  std::string r =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: " +
      websocket_accept_value("dGhlIHNhbXBsZSBub25jZQ==") + "\r\n\r\n";
  EXPECT_EQ(error_of([&] { c.feed(r); }),
            "WebSocket upgrade refused by 127.0.0.1:8080: bad Sec-WebSocket-Accept");
  UpgradeClient missing("127.0.0.1:8080", basic_request());
  EXPECT_EQ(error_of([&] {
              missing.feed("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n");
            }),
            "WebSocket upgrade refused by 127.0.0.1:8080: bad Sec-WebSocket-Accept");
}

TEST(HttpUpgradeTest, HttpErrorStatusesRefused) {
  UpgradeClient c403("127.0.0.1:8080", basic_request());
  EXPECT_EQ(error_of([&] { c403.feed("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"); }),
            "WebSocket upgrade refused by 127.0.0.1:8080: HTTP 403 Forbidden");
  UpgradeClient c404("example.com:80", basic_request());
  EXPECT_EQ(error_of([&] { c404.feed("HTTP/1.0 404 Not Found\r\n\r\n"); }),
            "WebSocket upgrade refused by example.com:80: HTTP 404 Not Found");
  UpgradeClient c200("h:1", basic_request());
  EXPECT_EQ(error_of([&] { c200.feed("HTTP/1.1 200 OK\r\n\r\n<html>"); }),
            "WebSocket upgrade refused by h:1: HTTP 200 OK");
}

TEST(HttpUpgradeTest, MissingUpgradeOrConnectionRefused) {
  UpgradeClient b("h:1", basic_request());
  std::string no_upgrade =
      "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: " +
      websocket_accept_value(b.key()) + "\r\n\r\n";
  EXPECT_EQ(error_of([&] { b.feed(no_upgrade); }),
            "WebSocket upgrade refused by h:1: no Upgrade: websocket");
  UpgradeClient c("h:1", basic_request());
  std::string no_connection =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
      "Connection: keep-alive\r\nSec-WebSocket-Accept: " +
      websocket_accept_value(c.key()) + "\r\n\r\n";
  EXPECT_EQ(error_of([&] { c.feed(no_connection); }),
            "WebSocket upgrade refused by h:1: no Connection: upgrade");
}

TEST(HttpUpgradeTest, NotHttpRefusedFromTheFirstBytes) {
  UpgradeClient c("127.0.0.1:22", basic_request());
  EXPECT_EQ(error_of([&] { c.feed("SSH-2.0-OpenSSH_9.2"); }),
            "WebSocket upgrade refused by 127.0.0.1:22: not HTTP");
  // Byte by byte: "HTT" is fine so far, "HTTX" is not.
  UpgradeClient d("h:1", basic_request());
  EXPECT_FALSE(d.feed("HTT"));
  EXPECT_EQ(error_of([&] { d.feed("X"); }), "WebSocket upgrade refused by h:1: not HTTP");
  // Even in one piece over the header cap.
  UpgradeClient big("h:1", basic_request());
  EXPECT_EQ(error_of([&] { big.feed(std::string(20000, 'x')); }),
            "WebSocket upgrade refused by h:1: not HTTP");
  UpgradeClient e("h:1", basic_request());
  EXPECT_EQ(error_of([&] { e.feed("HTTP/1.1 abc nope\r\n\r\n"); }),
            "WebSocket upgrade refused by h:1: not HTTP");
}

TEST(HttpUpgradeTest, HeaderBlockOverCapRefused) {
  UpgradeClient c("127.0.0.1:8080", basic_request());
  std::string r = "HTTP/1.1 101 Switching Protocols\r\n";
  while (r.size() <= kMaxUpgradeHeaderBytes) r += "X-Filler: 0123456789abcdef\r\n";
  EXPECT_EQ(error_of([&] { c.feed(r); }),
            "WebSocket upgrade refused by 127.0.0.1:8080: header block over 16384 bytes");
  // A block that ends just within the cap is accepted.
  UpgradeClient d("h:1", basic_request());
  std::string ok = ok_response(d);
  std::string pad = "X-Pad: " + std::string(kMaxUpgradeHeaderBytes - ok.size() - 9, 'p') + "\r\n";
  ok.insert(ok.size() - 2, pad);
  ASSERT_EQ(ok.size(), kMaxUpgradeHeaderBytes);
  EXPECT_TRUE(d.feed(ok));
}

TEST(HttpUpgradeTest, SubprotocolMustBeOneOffered) {
  UpgradeRequest r = basic_request();
  r.subprotocols = {"json.v1"};
  UpgradeClient good("h:1", r);
  EXPECT_TRUE(good.feed(ok_response(good, "Sec-WebSocket-Protocol: json.v1\r\n")));
  EXPECT_EQ(good.subprotocol(), "json.v1");
  UpgradeClient bad("h:1", r);
  EXPECT_EQ(error_of([&] { bad.feed(ok_response(bad, "Sec-WebSocket-Protocol: xml\r\n")); }),
            "WebSocket upgrade refused by h:1: unoffered Sec-WebSocket-Protocol xml");
}

// ---- server side ----

std::string client_request(const std::string& key, const std::string& extra = {}) {
  return "GET /feed HTTP/1.1\r\nHost: localhost:9000\r\nUpgrade: websocket\r\n"
         "Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: " +
         key + "\r\nSec-WebSocket-Version: 13\r\n" + extra + "\r\n";
}

TEST(HttpUpgradeTest, ServerAcceptsValidRequestOneByteAtATime) {
  UpgradeServer s("127.0.0.1:5555", {"json.v1"});
  std::string req =
      client_request("dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Protocol: chat, json.v1\r\n");
  for (size_t i = 0; i + 1 < req.size(); ++i) EXPECT_FALSE(s.feed(req.substr(i, 1))) << i;
  EXPECT_TRUE(s.feed(req.substr(req.size() - 1) + "\x81\x80"));
  ASSERT_TRUE(s.accepted()) << s.error();
  EXPECT_EQ(s.request().target, "/feed");
  EXPECT_EQ(s.subprotocol(), "json.v1");
  EXPECT_EQ(s.take_leftover(), "\x81\x80");
  const std::string& r = s.response();
  EXPECT_EQ(r.rfind("HTTP/1.1 101 Switching Protocols\r\n", 0), 0u);
  EXPECT_THAT(r, HasSubstr("\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
  EXPECT_THAT(r, HasSubstr("\r\nSec-WebSocket-Protocol: json.v1\r\n"));
  // And a client accepts what the server answers to its own request.
  UpgradeClient c("127.0.0.1:5555", basic_request());
  UpgradeServer s2("c");
  ASSERT_TRUE(s2.feed(c.request()));
  ASSERT_TRUE(s2.accepted());
  EXPECT_TRUE(c.feed(s2.response()));
}

TEST(HttpUpgradeTest, ServerRefusesBadRequestsWith400Or426) {
  UpgradeServer bad_key("127.0.0.1:5555");
  ASSERT_TRUE(bad_key.feed(client_request("short")));
  EXPECT_FALSE(bad_key.accepted());
  EXPECT_EQ(bad_key.error(),
            "WebSocket upgrade from 127.0.0.1:5555 refused: bad Sec-WebSocket-Key");
  EXPECT_EQ(bad_key.response().rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u);

  UpgradeServer version("p");
  std::string req = client_request("dGhlIHNhbXBsZSBub25jZQ==");
  req.replace(req.find("Version: 13"), 11, "Version: 8");
  ASSERT_TRUE(version.feed(req));
  EXPECT_FALSE(version.accepted());
  EXPECT_EQ(version.response().rfind("HTTP/1.1 426 Upgrade Required\r\n", 0), 0u);
  EXPECT_THAT(version.response(), HasSubstr("\r\nSec-WebSocket-Version: 13\r\n"));

  UpgradeServer post("p");
  std::string p = client_request("dGhlIHNhbXBsZSBub25jZQ==");
  p.replace(0, 3, "POST");
  ASSERT_TRUE(post.feed(p));
  EXPECT_FALSE(post.accepted());
  EXPECT_EQ(post.error(), "WebSocket upgrade from p refused: method POST not GET");

  UpgradeServer plain("p");
  ASSERT_TRUE(plain.feed("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_FALSE(plain.accepted());
  EXPECT_EQ(plain.error(), "WebSocket upgrade from p refused: no Upgrade: websocket");
}

TEST(HttpUpgradeTest, ServerThrowsOnNotHttp) {
  UpgradeServer s("127.0.0.1:5555");
  EXPECT_EQ(error_of([&] { s.feed(std::string("\x16\x03\x01\x02\x00", 5)); }),
            "WebSocket upgrade from 127.0.0.1:5555 refused: not HTTP");
}

}  // namespace
}  // namespace asyncore

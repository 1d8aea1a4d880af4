// parse_endpoint (douyu/protocol/endpoint.h): every accepted form, every refusal, and printing.
#include "douyu/protocol/endpoint.h"

#include <gtest/gtest.h>

#include <string>

namespace asyncore::douyu {
namespace {

Endpoint parse_ok(const std::string& url) {
  std::string error;
  std::optional<Endpoint> ep = parse_endpoint(url, &error);
  EXPECT_TRUE(ep.has_value()) << url << ": " << error;
  return ep.value_or(Endpoint{});
}

// The refusal's message, which must name the URL.
std::string parse_error(const std::string& url) {
  std::string error;
  EXPECT_FALSE(parse_endpoint(url, &error).has_value()) << url;
  EXPECT_NE(error.find(url), std::string::npos) << error;
  return error;
}

TEST(EndpointTest, DefaultPortPerScheme) {
  EXPECT_EQ(parse_ok("tcp://openbarrage.douyutv.com"),
            (Endpoint{Transport::kTcp, "openbarrage.douyutv.com", 8601, "/"}));
  EXPECT_EQ(parse_ok("ws://example.com"), (Endpoint{Transport::kWs, "example.com", 80, "/"}));
  EXPECT_EQ(parse_ok("wss://example.com"), (Endpoint{Transport::kWss, "example.com", 443, "/"}));
}

TEST(EndpointTest, ExplicitPortAndPath) {
  EXPECT_EQ(parse_ok("wss://danmuproxy.douyu.com:8506/"),
            (Endpoint{Transport::kWss, "danmuproxy.douyu.com", 8506, "/"}));
  EXPECT_EQ(parse_ok("ws://127.0.0.1:9000/sub/path?x=1&y=2"),
            (Endpoint{Transport::kWs, "127.0.0.1", 9000, "/sub/path?x=1&y=2"}));
  // A query straight after the authority still gets its "/".
  EXPECT_EQ(parse_ok("ws://h:1?x=1").path, "/?x=1");
  EXPECT_EQ(parse_ok("tcp://h:1/"), (Endpoint{Transport::kTcp, "h", 1, "/"}));
  EXPECT_EQ(parse_ok("tcp://h:65535").port, 65535);
  EXPECT_EQ(parse_ok("tcp://my_host-1.example").host, "my_host-1.example");
}

TEST(EndpointTest, SchemeIsCaseInsensitiveHostIsKept) {
  EXPECT_EQ(parse_ok("WSS://Example.COM").transport, Transport::kWss);
  EXPECT_EQ(parse_ok("WSS://Example.COM").host, "Example.COM");
  EXPECT_EQ(parse_ok("Tcp://h").transport, Transport::kTcp);
  EXPECT_EQ(parse_ok("wS://h").transport, Transport::kWs);
}

TEST(EndpointTest, Ipv6InBrackets) {
  EXPECT_EQ(parse_ok("wss://[::1]:8501/"), (Endpoint{Transport::kWss, "::1", 8501, "/"}));
  EXPECT_EQ(parse_ok("tcp://[2001:db8::a]"), (Endpoint{Transport::kTcp, "2001:db8::a", 8601, "/"}));
  EXPECT_EQ(parse_ok("ws://[::ffff:127.0.0.1]:80/x").host, "::ffff:127.0.0.1");
}

TEST(EndpointTest, ToStringBracketsIpv6AndPrintsPathForWebSocketsOnly) {
  EXPECT_EQ(parse_ok("wss://[::1]:8501/a?b").to_string(), "wss://[::1]:8501/a?b");
  EXPECT_EQ(parse_ok("tcp://h").to_string(), "tcp://h:8601");
  EXPECT_EQ(parse_ok("ws://h").to_string(), "ws://h:80/");
  // to_string() reads back as the same endpoint.
  for (const char* url : {"wss://[::1]:8501/a?b", "tcp://h:1", "ws://h:80/p"})
    EXPECT_EQ(parse_ok(parse_ok(url).to_string()), parse_ok(url)) << url;
}

TEST(EndpointTest, DouyuDefaultIsTheWebSocketProxy) {
  EXPECT_EQ(douyu_default_endpoint(),
            (Endpoint{Transport::kWss, "danmuproxy.douyu.com", kDouyuWssFirstPort, "/"}));
  EXPECT_EQ(douyu_default_endpoint().to_string(), "wss://danmuproxy.douyu.com:8501/");
  EXPECT_EQ(kDouyuWssLastPort, 8506);
  EXPECT_STREQ(transport_scheme(Transport::kTcp), "tcp");
  EXPECT_STREQ(transport_scheme(Transport::kWs), "ws");
  EXPECT_STREQ(transport_scheme(Transport::kWss), "wss");
}

TEST(EndpointTest, SchemeErrors) {
  EXPECT_NE(parse_error("").find("no scheme"), std::string::npos);
  EXPECT_NE(parse_error("danmuproxy.douyu.com:8501").find("no scheme"), std::string::npos);
  EXPECT_NE(parse_error("http://h/").find("unknown scheme \"http\""), std::string::npos);
  EXPECT_NE(parse_error("://h").find("unknown scheme"), std::string::npos);
}

TEST(EndpointTest, AuthorityErrors) {
  EXPECT_NE(parse_error("ws://h/#top").find("fragment"), std::string::npos);
  EXPECT_NE(parse_error("wss://user:pw@h/").find("user information"), std::string::npos);
  EXPECT_NE(parse_error("ws://").find("no host"), std::string::npos);
  EXPECT_NE(parse_error("tcp://:8601").find("no host"), std::string::npos);
  EXPECT_NE(parse_error("ws:///path").find("no host"), std::string::npos);
  EXPECT_NE(parse_error("ws://a b/").find("bad host"), std::string::npos);
  EXPECT_NE(parse_error("tcp://h:1:2").find("bad host"), std::string::npos);
  EXPECT_NE(parse_error("tcp://::1").find("bad host"), std::string::npos);  // IPv6 needs [ ]
  EXPECT_NE(parse_error("ws://h:/").find("empty port"), std::string::npos);
}

TEST(EndpointTest, PortErrors) {
  for (const char* url : {"tcp://h:0", "tcp://h:65536", "tcp://h:99999999999", "tcp://h:8x",
                          "tcp://h:-1", "tcp://h:+80", "tcp://h: 80"}) {
    EXPECT_NE(parse_error(url).find("bad port"), std::string::npos) << url;
  }
}

TEST(EndpointTest, Ipv6Errors) {
  EXPECT_NE(parse_error("ws://[::1/").find("unterminated ["), std::string::npos);
  EXPECT_NE(parse_error("ws://[::1]x/").find("junk after ]"), std::string::npos);
  EXPECT_NE(parse_error("ws://[::1]:/").find("empty port"), std::string::npos);
  EXPECT_NE(parse_error("ws://[]/").find("bad IPv6"), std::string::npos);
  EXPECT_NE(parse_error("ws://[1.2.3.4]/").find("bad IPv6"), std::string::npos);  // IPv4: no [ ]
  EXPECT_NE(parse_error("ws://[:::]/").find("bad IPv6"), std::string::npos);
  EXPECT_NE(parse_error("ws://[fe80::1%eth0]/").find("bad IPv6"), std::string::npos);
  EXPECT_NE(parse_error("ws://[example.com]/").find("bad IPv6"), std::string::npos);
  EXPECT_NE(parse_error("ws://[::1]:0/").find("bad port"), std::string::npos);
}

TEST(EndpointTest, PathErrors) {
  EXPECT_NE(parse_error("tcp://h:8601/x").find("tcp:// URL has no path"), std::string::npos);
  EXPECT_NE(parse_error("tcp://h?x=1").find("tcp:// URL has no path"), std::string::npos);
  EXPECT_NE(parse_error("ws://h/a b").find("space or control"), std::string::npos);
  EXPECT_NE(parse_error("ws://h/a\tb").find("space or control"), std::string::npos);
  EXPECT_NE(parse_error("wss://h/\x7f").find("space or control"), std::string::npos);
}

TEST(EndpointTest, ErrorPointerIsOptional) {
  EXPECT_FALSE(parse_endpoint("nope", nullptr).has_value());
  EXPECT_TRUE(parse_endpoint("tcp://h", nullptr).has_value());
}

}  // namespace
}  // namespace asyncore::douyu

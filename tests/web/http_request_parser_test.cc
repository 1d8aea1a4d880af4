// HttpRequestParser: requests split at every byte boundary, pipelining, the head limit (431),
// every refusal (400, 413) and what the server is told about keep-alive.
#include "web/http_request_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace asyncore::web {
namespace {

using Status = HttpRequestParser::Status;

// Feeds `chunks` one after another, collecting complete requests; stops at an error.
struct Outcome {
  std::vector<HttpRequest> requests;
  std::optional<HttpParseError> error;
};
Outcome feed(HttpRequestParser& parser, const std::vector<std::string>& chunks) {
  Outcome out;
  for (const std::string& chunk : chunks) {
    std::string_view rest = chunk;
    while (!rest.empty()) {
      const auto r = parser.parse(rest);
      EXPECT_LE(r.consumed, rest.size());
      rest.remove_prefix(r.consumed);
      if (r.status == Status::kRequest) {
        out.requests.push_back(parser.request());
      } else if (r.status == Status::kError) {
        out.error = parser.error();
        return out;
      } else {
        EXPECT_TRUE(rest.empty()) << "kNeedMore must consume everything";
        break;
      }
    }
  }
  return out;
}
Outcome feed_all(const std::string& bytes, size_t max_header = 8192) {
  HttpRequestParser parser(max_header);
  return feed(parser, {bytes});
}
// `bytes` in two reads, the first `cut` bytes long.
Outcome feed_cut(const std::string& bytes, size_t cut) {
  HttpRequestParser parser;
  return feed(parser, {bytes.substr(0, cut), bytes.substr(cut)});
}

const std::string kGet =
    "GET /events?types=chatmsg&size=30 HTTP/1.1\r\n"
    "Host: 127.0.0.1:8080\r\n"
    "Accept: text/event-stream\r\n"
    "Last-Event-ID: 41\r\n"
    "X-Folded: a, b\r\n"
    "\r\n";

void expect_get(const HttpRequest& r) {
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.target, "/events?types=chatmsg&size=30");
  EXPECT_EQ(r.path, "/events");
  EXPECT_EQ(r.query, "types=chatmsg&size=30");
  EXPECT_EQ(r.version_major, 1u);
  EXPECT_EQ(r.version_minor, 1u);
  EXPECT_TRUE(r.keep_alive);
  ASSERT_EQ(r.headers.size(), 4u);
  EXPECT_EQ(r.headers[0].first, "host");
  EXPECT_EQ(r.headers[0].second, "127.0.0.1:8080");
  ASSERT_NE(r.header("last-event-id"), nullptr);
  EXPECT_EQ(*r.header("last-event-id"), "41");
  EXPECT_EQ(*r.header("x-folded"), "a, b");
  EXPECT_EQ(r.header("Host"), nullptr) << "names are lower-case";
}

TEST(HttpRequestParser, OneRequestInOneRead) {
  const Outcome out = feed_all(kGet);
  ASSERT_FALSE(out.error);
  ASSERT_EQ(out.requests.size(), 1u);
  expect_get(out.requests[0]);
}

TEST(HttpRequestParser, SplitAtEveryByteBoundary) {
  for (size_t cut = 0; cut <= kGet.size(); ++cut) {
    const Outcome out = feed_cut(kGet, cut);
    ASSERT_FALSE(out.error) << "cut at " << cut;
    ASSERT_EQ(out.requests.size(), 1u) << "cut at " << cut;
    expect_get(out.requests[0]);
  }
}

TEST(HttpRequestParser, OneByteAtATime) {
  HttpRequestParser parser;
  std::vector<std::string> bytes;
  for (char c : kGet + kGet) bytes.emplace_back(1, c);
  const Outcome out = feed(parser, bytes);
  ASSERT_FALSE(out.error);
  ASSERT_EQ(out.requests.size(), 2u);
  expect_get(out.requests[0]);
  expect_get(out.requests[1]);
}

TEST(HttpRequestParser, PipelinedRequestsComeOneAtATimeInOrder) {
  const std::string bytes =
      "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
      "HEAD /b?q HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  HttpRequestParser parser;
  const auto first = parser.parse(bytes);
  ASSERT_EQ(first.status, Status::kRequest);
  EXPECT_EQ(parser.request().path, "/a");
  EXPECT_EQ(first.consumed, bytes.find("HEAD")) << "stops right after the first request";
  const Outcome rest = feed(parser, {bytes.substr(first.consumed)});
  ASSERT_FALSE(rest.error);
  ASSERT_EQ(rest.requests.size(), 2u);
  EXPECT_EQ(rest.requests[0].method, "HEAD");
  EXPECT_EQ(rest.requests[0].path, "/b");
  EXPECT_EQ(rest.requests[0].query, "q");
  EXPECT_TRUE(rest.requests[0].keep_alive);
  EXPECT_EQ(rest.requests[1].path, "/c");
  EXPECT_FALSE(rest.requests[1].keep_alive);
}

TEST(HttpRequestParser, PipelinedSplitAtEveryByteBoundary) {
  const std::string bytes = kGet + "HEAD / HTTP/1.0\r\n\r\n";
  for (size_t cut = 0; cut <= bytes.size(); ++cut) {
    const Outcome out = feed_cut(bytes, cut);
    ASSERT_FALSE(out.error) << "cut at " << cut;
    ASSERT_EQ(out.requests.size(), 2u) << "cut at " << cut;
    expect_get(out.requests[0]);
    EXPECT_EQ(out.requests[1].method, "HEAD");
    EXPECT_EQ(out.requests[1].version_minor, 0u);
    EXPECT_FALSE(out.requests[1].keep_alive) << "HTTP/1.0 closes unless asked";
  }
}

TEST(HttpRequestParser, KeepAliveFollowsVersionAndConnectionHeader) {
  struct Case {
    const char* request;
    bool keep_alive;
  } cases[] = {
      {"GET / HTTP/1.1\r\n\r\n", true},
      {"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false},
      {"GET / HTTP/1.0\r\n\r\n", false},
      {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
      {"GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", false},
  };
  for (const Case& c : cases) {
    const Outcome out = feed_all(c.request);
    ASSERT_FALSE(out.error) << c.request;
    ASSERT_EQ(out.requests.size(), 1u) << c.request;
    EXPECT_EQ(out.requests[0].keep_alive, c.keep_alive) << c.request;
  }
}

TEST(HttpRequestParser, AbsoluteFormTargetGivesItsPath) {
  const Outcome out = feed_all("GET http://example.com:8080/events?x=1 HTTP/1.1\r\n\r\n");
  ASSERT_FALSE(out.error);
  ASSERT_EQ(out.requests.size(), 1u);
  EXPECT_EQ(out.requests[0].path, "/events");
  EXPECT_EQ(out.requests[0].query, "x=1");
}

TEST(HttpRequestParser, AfterALastRequestFurtherBytesAreIgnored) {
  HttpRequestParser parser;
  const std::string bytes = "GET / HTTP/1.1\r\nConnection: close\r\n\r\nGARBAGE\r\n\r\n";
  const auto r = parser.parse(bytes);
  ASSERT_EQ(r.status, Status::kRequest);
  const auto next = parser.parse(std::string_view(bytes).substr(r.consumed));
  EXPECT_EQ(next.status, Status::kNeedMore);
}

// ---- refusals ----

void expect_error(const std::string& bytes, int status, const std::string& reason_part,
                  size_t max_header = 8192) {
  const Outcome out = feed_all(bytes, max_header);
  ASSERT_TRUE(out.error) << bytes;
  EXPECT_EQ(out.error->status, status) << bytes;
  EXPECT_NE(out.error->reason.find(reason_part), std::string::npos)
      << "reason '" << out.error->reason << "' lacks '" << reason_part << "'";
  EXPECT_TRUE(out.requests.empty());
}

TEST(HttpRequestParser, BadRequestLinesAre400WithHttpParsersErrorName) {
  expect_error("FOO / HTTP/1.1\r\n\r\n", 400, "HPE_INVALID_METHOD");
  expect_error("GET / HTTP/9.x\r\n\r\n", 400, "HPE_INVALID_VERSION");
  expect_error("GET / XTTP/1.1\r\n\r\n", 400, "HPE_INVALID_CONSTANT");
  expect_error("GET /a b HTTP/1.1\r\n\r\n", 400, "HPE_");
  expect_error("GET\r\n\r\n", 400, "HPE_");
  expect_error("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400, "HPE_");  // TLS to http://
  expect_error("GET / HTTP/1.1\r\nBad@Header: x\r\n\r\n", 400, "HPE_INVALID_HEADER_TOKEN");
  expect_error("GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400, "HPE_INVALID_HEADER_TOKEN");
  expect_error("GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n", 400, "HPE_INVALID_HEADER_TOKEN");
  expect_error("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", 400, "HPE_");
}

TEST(HttpRequestParser, TargetThatIsNotAPathIs400) {
  expect_error("OPTIONS * HTTP/1.1\r\n\r\n", 400, "not a path");
}

TEST(HttpRequestParser, HeadOverTheLimitIs431) {
  std::string big = "GET / HTTP/1.1\r\n";
  while (big.size() < 9000) big += "X-Filler: " + std::string(60, 'a') + "\r\n";
  expect_error(big + "\r\n", 431, "over 8192 bytes");
  // A request line alone over the limit too (a long URL).
  expect_error("GET /" + std::string(9000, 'a') + " HTTP/1.1\r\n\r\n", 431, "over 8192");
  // Exactly at the limit is accepted: the head is "GET / HTTP/1.1\r\nX: ...\r\n\r\n".
  const std::string prefix = "GET / HTTP/1.1\r\nX: ";
  const std::string exact = prefix + std::string(100 - prefix.size() - 4, 'v') + "\r\n\r\n";
  ASSERT_EQ(exact.size(), 100u);
  EXPECT_FALSE(feed_all(exact, 100).error);
  expect_error(prefix + std::string(100 - prefix.size() - 3, 'v') + "\r\n\r\n", 431, "over 100",
               100);
}

TEST(HttpRequestParser, HeadLimitHoldsWhenTheHeadArrivesByteByByte) {
  HttpRequestParser parser(64);
  std::vector<std::string> bytes;
  for (char c : "GET / HTTP/1.1\r\nX: " + std::string(100, 'a')) bytes.emplace_back(1, c);
  const Outcome out = feed(parser, bytes);
  ASSERT_TRUE(out.error);
  EXPECT_EQ(out.error->status, 431);
}

TEST(HttpRequestParser, EachRequestOfAPipelineHasItsOwnHeadLimit) {
  const std::string one = "GET / HTTP/1.1\r\nX: " + std::string(40, 'a') + "\r\n\r\n";
  ASSERT_LT(one.size(), 100u);
  HttpRequestParser parser(100);
  const Outcome out = feed(parser, {one + one + one});
  EXPECT_FALSE(out.error);
  EXPECT_EQ(out.requests.size(), 3u);
}

TEST(HttpRequestParser, GetWithABodyIs413) {
  expect_error("GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 413, "GET with a body");
  expect_error("HEAD / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 413,
               "HEAD with a body");
  // Content-Length: 0 is no body.
  const Outcome out = feed_all("GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
  EXPECT_FALSE(out.error);
  EXPECT_EQ(out.requests.size(), 1u);
}

TEST(HttpRequestParser, OtherMethodsEndAtTheirHeadForThe405) {
  HttpRequestParser parser;
  const std::string bytes = "POST /events HTTP/1.1\r\nContent-Length: 1000\r\n\r\npartial body";
  const auto r = parser.parse(bytes);
  ASSERT_EQ(r.status, Status::kRequest);
  EXPECT_EQ(parser.request().method, "POST");
  EXPECT_EQ(parser.request().path, "/events");
  EXPECT_FALSE(parser.request().keep_alive) << "its body is never read: the connection ends";
  EXPECT_EQ(r.consumed, bytes.find("partial"));
  for (const char* m : {"PUT", "DELETE", "OPTIONS", "PATCH"}) {
    const Outcome out = feed_all(std::string(m) + " / HTTP/1.1\r\n\r\n");
    ASSERT_EQ(out.requests.size(), 1u) << m;
    EXPECT_EQ(out.requests[0].method, m);
  }
}

TEST(HttpRequestParser, AfterAnErrorNothingMoreIsParsed) {
  HttpRequestParser parser;
  ASSERT_EQ(parser.parse("BAD\r\n\r\n").status, Status::kError);
  EXPECT_EQ(parser.parse("GET / HTTP/1.1\r\n\r\n").status, Status::kError);
}

TEST(HttpRequestParser, InRequestTellsAPartialRequestFromAnIdleConnection) {
  HttpRequestParser parser;
  EXPECT_FALSE(parser.in_request());
  ASSERT_EQ(parser.parse("GET / HT").status, Status::kNeedMore);
  EXPECT_TRUE(parser.in_request());
  ASSERT_EQ(parser.parse("TP/1.1\r\n\r\n").status, Status::kRequest);
  EXPECT_FALSE(parser.in_request());
}

}  // namespace
}  // namespace asyncore::web

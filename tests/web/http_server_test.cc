// HttpServer over real sockets on 127.0.0.1: the page with its headers, HEAD, keep-alive and
// pipelining, HTTP/1.0, every error status followed by a clean close (a FIN after the whole
// response, never a reset), the header deadline (slowloris), the idle timeout, the connection
// limit, and the log line each close for a reason leaves.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/web/web_test_util.h"

namespace asyncore::web::test {
namespace {

class HttpServerTest : public WebServerFixture {};

// A client of the server under test with the bytes it read past the last response (pipelining).
struct Conn : Client {
  using Client::Client;
  // Sends `request`, then reads one response (a HEAD's: `head_only`).
  std::optional<Response> ask(std::string_view request, bool head_only = false) {
    send(request);
    return next(head_only);
  }
  // Reads the next response.
  std::optional<Response> next(bool head_only = false) {
    return read_response(*this, rest, head_only);
  }
  // Nothing follows the last response: the server ends the stream with a FIN.
  ::testing::AssertionResult ends_cleanly() {
    const std::string more = rest + read_to_end();
    if (!more.empty()) return ::testing::AssertionFailure() << "bytes after the response: " << more;
    if (end() != End::kEof) {
      return ::testing::AssertionFailure()
             << "the stream ended by " << static_cast<int>(end()) << ", not a FIN";
    }
    return ::testing::AssertionSuccess();
  }

  std::string rest;
};

const char* kGetPage = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

// `r` is a response with that status.
::testing::AssertionResult has_status(const std::optional<Response>& r, int status) {
  if (!r) return ::testing::AssertionFailure() << "no response";
  if (r->status != status) return ::testing::AssertionFailure() << "status " << r->status;
  return ::testing::AssertionSuccess();
}

// `r` is a 200 with the page as its body.
::testing::AssertionResult is_page(const std::optional<Response>& r) {
  ::testing::AssertionResult ok = has_status(r, 200);
  if (ok && r->body != kPage) return ::testing::AssertionFailure() << "body: " << r->body;
  return ok;
}

TEST_F(HttpServerTest, PageWithItsHeaders) {
  start();
  Conn c(addr_);
  auto r = c.ask(kGetPage);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(r->has_header("Content-Type: text/html; charset=utf-8")) << r->head;
  EXPECT_TRUE(r->has_header("Cache-Control: no-cache")) << r->head;
  EXPECT_TRUE(r->has_header("Connection: keep-alive")) << r->head;
  EXPECT_EQ(r->content_length(), kPage.size());
  EXPECT_EQ(r->body, kPage);
  EXPECT_TRUE(c.rest.empty());
}

TEST_F(HttpServerTest, QueryStringIsNotPartOfTheRoute) {
  start();
  Conn c(addr_);
  EXPECT_TRUE(
      is_page(c.ask("GET /?types=chatmsg&speed=5&size=40&max=10 HTTP/1.1\r\nHost: x\r\n\r\n")));
}

TEST_F(HttpServerTest, HeadGivesTheHeadersOnlyAndKeepsTheConnection) {
  start();
  Conn c(addr_);
  auto head = c.ask("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", /*head_only=*/true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->content_length(), kPage.size()) << "the length the GET would have";
  // No body followed: the next response on the connection starts right after the head.
  EXPECT_TRUE(is_page(c.ask(kGetPage)));
}

TEST_F(HttpServerTest, KeepAliveTwoRequestsOnOneConnection) {
  start();
  Conn c(addr_);
  for (int i = 0; i < 2; ++i) {
    auto r = c.ask(kGetPage);
    ASSERT_TRUE(r) << "request " << i;
    EXPECT_EQ(r->body, kPage);
  }
  EXPECT_EQ(connections(), 1u);
}

TEST_F(HttpServerTest, PipelinedRequestsAnsweredInOrder) {
  start();
  Conn c(addr_);
  ASSERT_TRUE(
      has_status(c.ask(std::string(kGetPage) + "GET /nope HTTP/1.1\r\n\r\n" + kGetPage), 200));
  ASSERT_TRUE(has_status(c.next(), 404));
  // The 404 ends the connection: the third request is not answered, and the end is a FIN.
  EXPECT_TRUE(c.ends_cleanly());
}

TEST_F(HttpServerTest, ManyPipelinedRequestsFromAClientThatReadsLate) {
  // More answers than max_pending_response_bytes: the server stops parsing until they leave.
  HttpServerOptions o;
  o.max_pending_response_bytes = 4096;
  start(o);
  Conn c(addr_);
  std::string burst;
  for (int i = 0; i < 500; ++i) burst += kGetPage;
  c.send(burst);
  for (int i = 0; i < 500; ++i) {
    auto r = c.next();
    ASSERT_TRUE(r) << "response " << i;
    ASSERT_EQ(r->body, kPage) << "response " << i;
  }
}

TEST_F(HttpServerTest, Http10ClosesUnlessKeepAliveAsked) {
  start();
  {
    Conn c(addr_);
    auto r = c.ask("GET / HTTP/1.0\r\n\r\n");
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->has_header("Connection: close")) << r->head;
    EXPECT_EQ(r->body, kPage);
    EXPECT_TRUE(c.ends_cleanly());
  }
  Conn c(addr_);
  auto r = c.ask("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->has_header("Connection: keep-alive")) << r->head;
  EXPECT_TRUE(c.ask("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"))
      << "still open for a second request";
}

TEST_F(HttpServerTest, Http11ConnectionCloseIsHonoured) {
  start();
  Conn c(addr_);
  auto r = c.ask("GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, kPage);
  EXPECT_TRUE(c.ends_cleanly());
}

// An error status: the whole response, "Connection: close", then a clean end of stream, and a
// log line naming the peer and the reason.
void expect_refusal(const Address& addr, const std::string& request, int status,
                    const std::string& log_part, LogCapture& log) {
  Conn c(addr);
  auto r = c.ask(request, request.rfind("HEAD", 0) == 0);
  ASSERT_TRUE(r) << request.substr(0, 60);
  EXPECT_EQ(r->status, status) << request.substr(0, 60);
  EXPECT_TRUE(r->has_header("Connection: close")) << r->head;
  if (request.rfind("HEAD", 0) != 0) {
    EXPECT_EQ(r->body.substr(0, 4), std::to_string(status) + " ") << r->body;
  }
  c.read_to_end();
  EXPECT_EQ(c.end(), Client::End::kEof) << "closed with a FIN after the response";
  const std::string local = Address::local_of(c.fd()).to_string();
  EXPECT_TRUE(wait_for([&] {
    for (const auto& line : log.lines()) {
      if (line.text.find(local) != std::string::npos &&
          line.text.find(std::to_string(status)) != std::string::npos &&
          line.text.find(log_part) != std::string::npos) {
        return true;
      }
    }
    return false;
  })) << "no log line naming "
      << local << ", " << status << " and '" << log_part << "'";
}

TEST_F(HttpServerTest, EveryErrorStatusThenAClose) {
  start();
  LogCapture log;
  expect_refusal(addr_, "BREW / HTTP/1.1\r\n\r\n", 400, "HPE_INVALID_METHOD", log);
  expect_refusal(addr_, "GET / HTTP/1.1 extra\r\n\r\n", 400, "HPE_", log);
  expect_refusal(addr_, "GET / HTTP/1.1\r\nX: " + std::string(9000, 'a') + "\r\n\r\n", 431,
                 "over 8192 bytes", log);
  expect_refusal(addr_, "GET /favicon.ico HTTP/1.1\r\n\r\n", 404, "/favicon.ico", log);
  expect_refusal(addr_, "HEAD /nothing HTTP/1.1\r\n\r\n", 404, "/nothing", log);
  expect_refusal(addr_, "POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", 405, "method POST", log);
  expect_refusal(addr_, "DELETE /events HTTP/1.1\r\n\r\n", 405, "method DELETE", log);
  expect_refusal(addr_, "GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 413, "GET with a body",
                 log);
}

TEST_F(HttpServerTest, MethodNotAllowedNamesTheAllowedOnes) {
  start();
  Conn c(addr_);
  auto r = c.ask("PUT / HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_TRUE(r->has_header("Allow: GET, HEAD")) << r->head;
  EXPECT_EQ(r->body, "405 Method Not Allowed\n");
}

TEST_F(HttpServerTest, ResponseSurvivesAClientStillSendingItsBody) {
  // A POST with a large body: the 405 goes out at once, the unread body must not turn the close
  // into a reset that destroys the response (the server half-closes and drains).
  start();
  Conn c(addr_);
  c.send("POST /upload HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n");
  std::thread sender([&] {
    try {
      c.send(std::string(512 * 1024, 'x'));
    } catch (const std::exception&) {  // the server may close before all of it is sent
    }
  });
  auto r = c.next();
  sender.join();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->body, "405 Method Not Allowed\n");
}

TEST_F(HttpServerTest, HeaderDeadlineAgainstASlowClient) {
  HttpServerOptions o;
  o.header_timeout = 0.3;
  start(o);
  LogCapture log;
  const auto t0 = Clock::now();  // the first request's head is due 0.3 s after the connection
  Conn c(addr_);
  // One byte every 50 ms: each read would restart a naive timer; the deadline counts from the
  // request's first byte.
  const std::string request = "GET / HTTP/1.1\r\nX-Slow: ";
  for (size_t i = 0; i < 200 && c.rest.empty(); ++i) {
    try {
      c.send(std::string(1, i < request.size() ? request[i] : 'a'));
    } catch (const std::exception&) {
      break;
    }
    c.rest = c.read_some(0.05);
  }
  ASSERT_TRUE(has_status(c.next(), 408));
  const double took = std::chrono::duration<double>(Clock::now() - t0).count();
  EXPECT_GE(took, 0.25);  // libevent's cached time can fire a timer a little early
  EXPECT_LT(took, 5.0);
  c.read_to_end();
  EXPECT_NE(c.end(), Client::End::kTimeout);
  EXPECT_TRUE(wait_for([&] { return log.contains("no complete request head within 0.3 s"); }));
}

TEST_F(HttpServerTest, HeaderDeadlineForAConnectionThatSendsNothing) {
  HttpServerOptions o;
  o.header_timeout = 0.2;
  start(o);
  Conn c(addr_);
  ASSERT_TRUE(has_status(c.next(), 408));
  c.read_to_end();
  EXPECT_EQ(c.end(), Client::End::kEof);
  c.close();  // the server, lingering for this end of stream, closes at once
  EXPECT_TRUE(wait_for([&] { return connections() == 0; }, 1.5));
}

TEST_F(HttpServerTest, IdleKeepAliveConnectionIsClosed) {
  HttpServerOptions o;
  o.idle_timeout = 0.2;
  start(o);
  LogCapture log;
  Conn c(addr_);
  ASSERT_TRUE(c.ask(kGetPage));
  const auto t0 = Clock::now();
  EXPECT_TRUE(c.ends_cleanly());
  EXPECT_GE(std::chrono::duration<double>(Clock::now() - t0).count(), 0.15);
  EXPECT_TRUE(wait_for([&] { return log.contains("idle for 0.2 s on a keep-alive connection"); }));
}

TEST_F(HttpServerTest, ConnectionsBeyondTheLimitGet503) {
  HttpServerOptions o;
  o.max_connections = 2;
  start(o);
  LogCapture log;
  Conn a(addr_), b(addr_);
  a.send(kGetPage);
  b.send(kGetPage);
  ASSERT_TRUE(a.next());
  ASSERT_TRUE(b.next());
  Conn c(addr_);
  ASSERT_TRUE(has_status(c.next(), 503));
  c.read_to_end();
  EXPECT_NE(c.end(), Client::End::kTimeout);
  EXPECT_EQ(lt_.get<uint64_t>([&] { return server_->refused_connections(); }), 1u);
  EXPECT_TRUE(log.contains("503 Service Unavailable (2 connections open)"));
  // The two open ones still work; once one leaves, a new client is served.
  EXPECT_TRUE(a.ask(kGetPage));
  b.close();
  ASSERT_TRUE(wait_for([&] { return connections() == 1; }));
  Conn d(addr_);
  EXPECT_TRUE(has_status(d.ask(kGetPage), 200));
}

TEST_F(HttpServerTest, PortZeroGivesAFreePortAndIPv6Works) {
  LoopThread lt;
  std::unique_ptr<HttpServer> server;
  Address addr;
  lt.on_loop([&] {
    server = std::make_unique<HttpServer>(lt.loop(), Address::ipv6_loopback(0));
    server->add_resource("/", "six", "text/plain");
    addr = server->address();
  });
  EXPECT_NE(addr.port(), 0);
  EXPECT_EQ(addr.to_string().rfind("[::1]:", 0), 0u) << addr.to_string();
  Conn c(addr);
  auto r = c.ask(kGetPage);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "six");
  lt.on_loop([&] { server.reset(); });
}

TEST_F(HttpServerTest, AddressInUseIsAClearError) {
  start();
  LoopThread lt;
  lt.on_loop([&] {
    try {
      HttpServer second(lt.loop(), addr_);
      ADD_FAILURE() << "bound twice";
    } catch (const std::system_error& e) {
      EXPECT_NE(std::string(e.what()).find(std::to_string(addr_.port())), std::string::npos)
          << e.what();
    }
  });
}

}  // namespace
}  // namespace asyncore::web::test

// The samples end to end, as separate processes: echo_server under 1,000 concurrent clients each
// echoing 64 KiB, chat_server's broadcast, socket_client against a server, and the "listening on"
// / SIGINT / SIGTERM contract. Every wait has a deadline.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "client/buffered_dispatcher.h"
#include "client/socket_client.h"
#include "tests/client/client_test_util.h"

namespace asyncore {
namespace {

// The 1,000-client test's bound: 60 s; sanitizer builds run several times slower.
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr double kEchoDeadlineSeconds = 180;
#else
constexpr double kEchoDeadlineSeconds = 60;
#endif

using client_test::Child;
using client_test::run_until;

// Starts a sample that listens and returns its port (0 if it did not say "listening on").
uint16_t start_listening(Child& child) {
  auto line = child.read_line(30);
  EXPECT_TRUE(line.has_value()) << "no first line from the sample";
  if (!line) return 0;
  uint16_t port = client_test::port_of_listening_line(*line);
  EXPECT_NE(port, 0) << "first line was: " << *line;
  return port;
}

void expect_clean_exit(Child& child, int sig) {
  child.signal(sig);
  auto status = child.wait(30);
  ASSERT_TRUE(status.has_value()) << "did not stop on signal " << sig;
  EXPECT_TRUE(WIFEXITED(*status)) << "killed by signal " << WTERMSIG(*status);
  EXPECT_EQ(WEXITSTATUS(*status), 0);
}

// One echo client: sends 64 KiB of its own pattern and checks every byte that comes back.
constexpr size_t kEchoBytes = 64 * 1024;
inline char pattern_byte(uint32_t client, size_t i) {
  return static_cast<char>((i * 131 + client * 7 + (i >> 9) + (client >> 8)) & 0xff);
}

class EchoProbe : public BufferedDispatcher {
 public:
  EchoProbe(Loop& loop, uint32_t id, const Address& server, int& done, int& failed)
      : BufferedDispatcher(loop), id_(id), done_(done), failed_(failed) {
    create_socket();
    connect(server);
  }
  void handle_connect() override {
    std::string data(kEchoBytes, '\0');
    for (size_t i = 0; i < kEchoBytes; ++i) data[i] = pattern_byte(id_, i);
    send(data);
  }
  void handle_read() override {
    static char buf[64 * 1024];
    ssize_t n = recv(buf, sizeof buf);
    for (ssize_t k = 0; k < n; ++k) {
      if (received_ >= kEchoBytes || buf[k] != pattern_byte(id_, received_)) {
        finish(false);
        return;
      }
      ++received_;
    }
    if (received_ == kEchoBytes) finish(true);
  }
  void handle_close() override { finish(false); }
  void handle_error() override { finish(false); }

 private:
  void finish(bool ok) {
    if (finished_) return;
    finished_ = true;
    ++(ok ? done_ : failed_);
    close();
  }
  uint32_t id_;
  size_t received_ = 0;
  bool finished_ = false;
  int& done_;
  int& failed_;
};

TEST(EchoServerSample, ThousandClientsEach64KiB) {
  constexpr int kClients = 1000;
  ASSERT_GE(client_test::raise_fd_limit(), static_cast<rlim_t>(kClients + 100))
      << "not enough file descriptors for " << kClients << " clients";
  Child server({client_test::bin_path("echo_server"), "--port", "0"});
  uint16_t port = start_listening(server);
  ASSERT_NE(port, 0);

  auto start = std::chrono::steady_clock::now();
  Loop loop;
  int done = 0, failed = 0;
  for (int i = 0; i < kClients; ++i) {
    make_dispatcher<EchoProbe>(loop, static_cast<uint32_t>(i), Address::ipv4_loopback(port), done,
                               failed);
  }
  bool finished = run_until(
      loop, [&] { return done + failed == kClients; }, kEchoDeadlineSeconds);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "1000 clients x 64 KiB echoed in %.2f s\n", seconds);
  RecordProperty("seconds", std::to_string(seconds));
  EXPECT_TRUE(finished) << "timed out after " << kEchoDeadlineSeconds << " s: " << done << " done, "
                        << failed << " failed";
  EXPECT_EQ(done, kClients);
  EXPECT_EQ(failed, 0);
  loop.close_all();
  expect_clean_exit(server, SIGTERM);
}

TEST(EchoServerSample, StopsCleanlyOnSigint) {
  Child server({client_test::bin_path("echo_server"), "--host=127.0.0.1", "--port=0"});
  ASSERT_NE(start_listening(server), 0);
  expect_clean_exit(server, SIGINT);
}

// A chat client for tests: collects lines.
struct ChatProbe {
  std::shared_ptr<SocketClient> client;
  std::string text;
  ChatProbe(Loop& loop, uint16_t port) {
    client = make_dispatcher<SocketClient>(loop, "127.0.0.1", port);
    client->set_on_data([this](std::string_view d) { text.append(d); });
  }
  bool has(const std::string& s) const { return text.find(s) != std::string::npos; }
};

TEST(ChatServerSample, BroadcastsLinesToOthersWithSenderAddress) {
  Child server({client_test::bin_path("chat_server"), "--port", "0"});
  uint16_t port = start_listening(server);
  ASSERT_NE(port, 0);
  Loop loop;
  ChatProbe a(loop, port);
  ASSERT_TRUE(run_until(loop, [&] { return a.client->connected(); }));
  ChatProbe b(loop, port);
  ChatProbe c(loop, port);
  // a learns of b and c joining: then both are in the room.
  ASSERT_TRUE(run_until(loop, [&] {
    return b.client->connected() && c.client->connected() &&
           a.text.find("joined") != a.text.rfind("joined");
  }));
  std::string a_name = Address::local_of(a.client->fileno()).to_string();
  a.client->send("hello room\r\n");
  b.client->send("from b\n");
  ASSERT_TRUE(run_until(loop,
                        [&] {
                          return b.has(a_name + ": hello room\n") &&
                                 c.has(a_name + ": hello room\n") && a.has(": from b\n") &&
                                 c.has(": from b\n");
                        }))
      << "a saw: " << a.text << "\nb saw: " << b.text << "\nc saw: " << c.text;
  EXPECT_FALSE(a.has(a_name + ": hello room"));  // not echoed to the sender
  a.client->close();
  ASSERT_TRUE(run_until(loop, [&] { return b.has("* " + a_name + " left\n"); }));
  b.client->close();
  c.client->close();
  expect_clean_exit(server, SIGTERM);
}

TEST(SocketClientSample, PrintsConnectedThenDataAndExitsOnClose) {
  // The server: accepts one connection, greets, closes (a thread with blocking sockets).
  Socket listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  Address any = Address::ipv4_loopback(0);
  ASSERT_EQ(::bind(listener.fd(), any.sockaddr_ptr(), any.length()), 0);
  ASSERT_EQ(::listen(listener.fd(), 5), 0);
  timeval tv{30, 0};
  ::setsockopt(listener.fd(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  uint16_t port = Address::local_of(listener.fd()).port();
  std::thread server([&] {
    Socket conn(::accept4(listener.fd(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn) return;
    const char greeting[] = "hello world\nsecond line\n";
    (void)!::send(conn.fd(), greeting, sizeof greeting - 1, MSG_NOSIGNAL);
  });
  Child client({client_test::bin_path("socket_client"), "127.0.0.1", std::to_string(port)});
  std::string out = client.read_all(30);
  server.join();
  auto status = client.wait(30);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(out, "connected\nhello world\nsecond line\n");
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 0);
}

TEST(SocketClientSample, ConnectionRefusedExitsWithError) {
  Socket probe(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));  // a port nobody listens on
  Address any = Address::ipv4_loopback(0);
  ASSERT_EQ(::bind(probe.fd(), any.sockaddr_ptr(), any.length()), 0);
  uint16_t port = Address::local_of(probe.fd()).port();
  Child client({client_test::bin_path("socket_client"), "127.0.0.1", std::to_string(port)});
  std::string out = client.read_all(30);
  auto status = client.wait(30);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(out, "");
  EXPECT_EQ(WEXITSTATUS(*status), 1);
}

}  // namespace
}  // namespace asyncore

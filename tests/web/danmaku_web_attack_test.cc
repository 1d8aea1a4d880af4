// Black-box attacks on `douyu_danmaku --web` as a child process: signals with browsers that do
// not read, a browser that subscribes before the rooms start and stays after they stop, ports in
// use and addresses that are not this host's, on IPv4 and IPv6 loopback.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <regex>
#include <string>
#include <vector>

#include "tests/douyu_session/cli_process.h"
#include "tests/web/web_test_util.h"

namespace asyncore::web::test {
namespace {

using danmaku_test::CliProcess;
using danmaku_test::CliSpawn;
using danmaku_test::danmaku_bin;

struct WebRun {
  explicit WebRun(std::vector<std::string> args) : cli(spec(std::move(args))) {
    const bool up =
        cli.wait_stderr("web overlay: http://", 30) && cli.pump_until([&] { return parse(); }, 10);
    if (!up) ADD_FAILURE() << "no 'web overlay:' line; stderr:\n" << cli.err();
  }
  bool parse() {
    std::smatch m;
    static const std::regex line(R"(web overlay: http://(\[[0-9a-f:]+\]|[0-9.]+):([0-9]+)/\n)");
    if (!std::regex_search(cli.err(), m, line)) return false;
    std::string host = m[1];
    if (host[0] == '[') host = host.substr(1, host.size() - 2);
    addr = Address::ip(host, static_cast<uint16_t>(std::stoi(m[2])));
    return true;
  }
  static CliSpawn spec(std::vector<std::string> args) {
    args.insert(args.begin(), danmaku_bin());
    return CliSpawn(std::move(args));
  }
  std::unique_ptr<Client> subscribe(int rcvbuf = 0) {
    auto c = std::make_unique<Client>(addr, rcvbuf);
    c->send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
    std::string got;
    EXPECT_TRUE(c->read_until(got, "retry: 2000\n\n", 20)) << got;
    return c;
  }
  bool exited_cleanly(double seconds) {
    const auto status = cli.wait(seconds);
    return status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0;
  }
  CliProcess cli;
  Address addr;
};

void expect_ended(Client& c, const char* what) {
  c.read_to_end(10);
  EXPECT_NE(c.end(), Client::End::kTimeout) << what << " still open after the run ended";
}

TEST(DanmakuWebAttack, SigtermWithBrowsersThatDoNotReadEndsTheRunPromptly) {
  WebRun r({"--demo", "--web=0", "--output=none", "--demo-rate=5000", "--room=1,2"});
  std::vector<std::unique_ptr<Client>> stuck;
  for (int i = 0; i < 5; ++i) stuck.push_back(r.subscribe(2048));  // never read again
  Client page(r.addr, 2048);  // a page client flooding requests, reading nothing
  std::string burst;
  for (int i = 0; i < 2000; ++i) burst += "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  std::thread flood([&] {
    try {
      page.send(burst);
    } catch (const std::exception&) {  // the server closed it: fine
    }
  });
  Client partial(r.addr);
  partial.send("GET /events HTTP/1.1\r\nHos");
  // Let the stuck browsers' buffers fill a while (some get dropped: that is allowed).
  r.cli.wait_stderr("event stream: dropping browser", 2);
  const auto t0 = Clock::now();
  ASSERT_EQ(::kill(r.cli.pid(), SIGTERM), 0);
  EXPECT_TRUE(r.exited_cleanly(10)) << r.cli.err();
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - t0).count(), 5.0);
  for (auto& c : stuck) expect_ended(*c, "a stuck browser");
  ::shutdown(page.fd(), SHUT_RDWR);
  flood.join();
  expect_ended(partial, "a partial request");
}

TEST(DanmakuWebAttack, BrowserFromBeforeTheRoomsStartUntilAfterTheyStop) {
  // --max-messages ends the rooms on their own; the browser that was there from the first
  // moment must see its stream end, and the run must end with status 0.
  WebRun r({"--demo", "--web=0", "--output=none", "--max-messages=40", "--demo-rate=100"});
  auto browser = r.subscribe();
  std::string got = browser->read_to_end(20);
  EXPECT_EQ(browser->end(), Client::End::kEof) << "the stream was not ended with the run";
  EXPECT_NE(got.find("data: {\"type\":"), std::string::npos) << "no event reached it";
  EXPECT_TRUE(r.exited_cleanly(10)) << r.cli.err();
}

TEST(DanmakuWebAttack, DoubleSignalWhileBrowsersAreConnected) {
  WebRun r({"--demo", "--web=0", "--output=none", "--demo-rate=2000"});
  auto stuck = r.subscribe(2048);
  auto reader = r.subscribe();
  ASSERT_EQ(::kill(r.cli.pid(), SIGINT), 0);
  ASSERT_EQ(::kill(r.cli.pid(), SIGTERM), 0);
  const auto status = r.cli.wait(10);
  ASSERT_TRUE(status) << "still running after SIGINT then SIGTERM\n" << r.cli.err();
  EXPECT_FALSE(WIFSIGNALED(*status) &&
               (WTERMSIG(*status) == SIGSEGV || WTERMSIG(*status) == SIGABRT))
      << r.cli.err();
  expect_ended(*reader, "the reading browser");
  expect_ended(*stuck, "the stuck browser");
}

TEST(DanmakuWebAttack, PortInUseOnIPv6IsAClearError) {
  WebRun first({"--demo", "--web=0", "--web-host=::1", "--output=none", "--duration=30"});
  const std::string port = std::to_string(first.addr.port());
  CliProcess second(
      CliSpawn({danmaku_bin(), "--demo", "--output=none", "--web-host=::1", "--web=" + port}));
  const auto status = second.wait(20);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 1) << second.err();
  EXPECT_NE(second.err().find("--web: cannot listen on [::1]:" + port + ": Address already in use"),
            std::string::npos)
      << second.err();
}

TEST(DanmakuWebAttack, AnAddressThatIsNotThisHostsIsAClearError) {
  // 192.0.2.1 (TEST-NET-1) is nobody's: the bind fails; nothing is sent anywhere.
  CliProcess run(
      CliSpawn({danmaku_bin(), "--demo", "--output=none", "--web=0", "--web-host=192.0.2.1"}));
  const auto status = run.wait(20);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 1) << run.err();
  EXPECT_NE(run.err().find("--web: cannot listen on 192.0.2.1:0"), std::string::npos) << run.err();
}

TEST(DanmakuWebAttack, BrowsersChurningWhileTheRunEnds) {
  WebRun r({"--demo", "--web=0", "--output=none", "--demo-rate=2000", "--duration=1.5"});
  std::atomic<bool> stop{false};
  std::atomic<int> visits{0};
  std::thread churn([&] {
    while (!stop) {
      try {
        Client c(r.addr);
        c.send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
        std::string got;
        c.read_until(got, "data: ", 1);
        linger l{1, 0};
        ::setsockopt(c.fd(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
        ++visits;
      } catch (const std::exception&) {
        return;  // not listening any more
      }
    }
  });
  EXPECT_TRUE(r.exited_cleanly(15)) << r.cli.err();
  stop = true;
  churn.join();
  EXPECT_GT(visits.load(), 0);
}

}  // namespace
}  // namespace asyncore::web::test

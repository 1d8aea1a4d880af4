// douyu_danmaku --web end to end: the binary as a child process (tests/douyu_session/cli_process.h)
// against its in-process simulator; a real client on loopback reads the page and the event stream.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <iterator>
#include <regex>
#include <set>
#include <string>

#include "samples/danmaku/web/overlay_page.h"
#include "tests/douyu/json_validator.h"
#include "tests/douyu_session/cli_process.h"
#include "tests/web/web_test_util.h"

namespace asyncore::web::test {
namespace {

using danmaku_test::CliProcess;
using danmaku_test::CliSpawn;
using danmaku_test::danmaku_bin;

// Starts douyu_danmaku with `args` and reads the address from "web overlay: http://HOST:PORT/".
struct Overlay {
  explicit Overlay(std::vector<std::string> args, std::string stdout_path = {})
      : cli(make_spec(std::move(args), std::move(stdout_path))) {
    const bool up =
        cli.wait_stderr("web overlay: http://", 30) && cli.pump_until([&] { return parse(); }, 10);
    if (!up) ADD_FAILURE() << "no 'web overlay:' line; stderr:\n" << cli.err();
  }
  static CliSpawn make_spec(std::vector<std::string> args, std::string stdout_path) {
    args.insert(args.begin(), danmaku_bin());
    if (stdout_path.empty()) return CliSpawn(std::move(args));
    return CliSpawn(std::move(args), CliSpawn::Stdout::kPath, std::move(stdout_path));
  }
  bool parse() {
    std::smatch m;
    static const std::regex line(R"(web overlay: http://(\[[0-9a-f:]+\]|[0-9.]+):([0-9]+)/\n)");
    if (!std::regex_search(cli.err(), m, line)) return false;
    host = m[1];
    addr = Address::ip(host, static_cast<uint16_t>(std::stoi(m[2])));
    return true;
  }
  // Subscribes to /events and returns the client once the stream's head has arrived.
  std::unique_ptr<Client> subscribe(const std::string& target = "/events", int rcvbuf = 0) {
    auto c = std::make_unique<Client>(addr, rcvbuf);
    c->send("GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n");
    std::string got;
    EXPECT_TRUE(c->read_until(got, "retry: 2000\n\n", 20)) << got;
    EXPECT_EQ(got.find("HTTP/1.1 200 OK\r\n"), 0u);
    EXPECT_NE(got.find("Content-Type: text/event-stream\r\n"), std::string::npos);
    return c;
  }
  CliProcess cli;
  std::string host;
  Address addr;
};

// The next `n` events' JSON objects, each checked to be a flat object of strings with "type".
std::vector<std::vector<std::pair<std::string, std::string>>> read_events(Client& c, size_t n) {
  std::vector<std::vector<std::pair<std::string, std::string>>> events;
  std::string got;
  const auto deadline = deadline_in(30);
  while (events.size() < n && Clock::now() < deadline) {  // (the last read may bring more)
    std::string more = c.read_some(10);
    if (more.empty()) break;
    got += more;
    size_t pos = 0;
    for (size_t end; (end = got.find("\n\n", pos)) != std::string::npos; pos = end + 2) {
      const std::string event = got.substr(pos, end - pos);
      if (event.rfind(": ", 0) == 0) continue;  // a keep-alive comment
      EXPECT_EQ(event.rfind("data: ", 0), 0u) << event;
      EXPECT_EQ(event.find('\n'), std::string::npos) << "one data: line per event: " << event;
      const std::string json = event.substr(6);
      auto fields = asyncore::douyu::testing::JsonValidator::flat_object(json);
      EXPECT_TRUE(fields) << "not a flat JSON object: " << json;
      if (!fields) continue;
      EXPECT_TRUE(!fields->empty() && (*fields)[0].first == "type") << json;
      events.push_back(*fields);
    }
    got.erase(0, pos);
  }
  EXPECT_GE(events.size(), n) << "events within 30 s";
  return events;
}

TEST(DanmakuWeb, DemoServesThePageAndTheEvents) {
  Overlay o({"--demo", "--web=0", "--output=none"});
  ASSERT_EQ(o.host, "127.0.0.1");
  {
    Client page(o.addr);
    page.send("GET /?types=chatmsg&speed=6 HTTP/1.1\r\nHost: x\r\n\r\n");
    std::string rest;
    auto r = read_response(page, rest, false, 20);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(r->has_header("Content-Type: text/html; charset=utf-8")) << r->head;
    EXPECT_EQ(r->body, danmaku::overlay_page()) << "the page built into the binary";
  }
  auto browser = o.subscribe();
  std::set<std::string> types;
  for (const auto& e : read_events(*browser, 30)) types.insert(e[0].second);
  EXPECT_TRUE(types.count("chatmsg")) << "the simulator's chat reached the browser";
  // Ctrl-C: the server closes (the browser sees the end of its stream) and the run ends cleanly.
  ASSERT_EQ(::kill(o.cli.pid(), SIGINT), 0);
  browser->read_to_end(20);
  EXPECT_EQ(browser->end(), Client::End::kEof);
  const auto status = o.cli.wait(20);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << o.cli.err();
}

TEST(DanmakuWeb, TypesFilterWhatIsSentAndRoomsShareTheStream) {
  // stdout to a file: a pipe nobody reads would hold the rooms up (by design, see output.h).
  const std::string out_path = "/tmp/danmaku-web-test-" + std::to_string(::getpid()) + ".jsonl";
  std::ofstream(out_path).close();  // CliSpawn opens it O_WRONLY
  Overlay o({"--demo", "--room=101,202,303", "--types=chatmsg,uenter", "--web=0", "--output=jsonl",
             "--demo-rate=200"},
            out_path);
  auto browser = o.subscribe();
  std::set<std::string> rids;
  for (const auto& e : read_events(*browser, 200)) {
    EXPECT_TRUE(e[0].second == "chatmsg" || e[0].second == "uenter") << e[0].second;
    for (const auto& [k, v] : e) {
      if (k == "rid") rids.insert(v);
    }
  }
  EXPECT_EQ(rids, (std::set<std::string>{"101", "202", "303"}));
  ASSERT_EQ(::kill(o.cli.pid(), SIGTERM), 0);
  const auto status = o.cli.wait(20);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << o.cli.err();
  std::ifstream file(out_path);
  const std::string lines((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  ::unlink(out_path.c_str());
  EXPECT_NE(lines.find("{\"type\":\"chatmsg\""), std::string::npos) << "stdout gets its lines too";
}

TEST(DanmakuWeb, IPv6HostInBrackets) {
  Overlay o({"--demo", "--web=0", "--web-host=::1", "--output=none", "--duration=20"});
  EXPECT_EQ(o.host, "[::1]");
  auto browser = o.subscribe();
  read_events(*browser, 3);
}

TEST(DanmakuWeb, DurationEndsTheRunWithBrowsersConnected) {
  Overlay o({"--demo", "--web=0", "--output=none", "--duration=1.5"});
  auto browser = o.subscribe();
  Client idle(o.addr);  // a connection that never sends its request
  const auto status = o.cli.wait(20);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << o.cli.err();
  browser->read_to_end(5);
  EXPECT_NE(browser->end(), Client::End::kTimeout);
}

TEST(DanmakuWeb, ABrowserThatDoesNotReadIsDroppedNotWaitedFor) {
  Overlay o({"--demo", "--web=0", "--output=none", "--demo-rate=5000", "--duration=60"});
  auto stuck = o.subscribe("/events", 4096);  // never read again
  auto reader = o.subscribe();
  // The stuck browser goes once 1 MiB is waiting for it; the reading one keeps getting events.
  ASSERT_TRUE(o.cli.wait_stderr("event stream: dropping browser", 60)) << o.cli.err();
  read_events(*reader, 100);
  ASSERT_EQ(::kill(o.cli.pid(), SIGINT), 0);
  const auto status = o.cli.wait(20);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << o.cli.err();
}

TEST(DanmakuWeb, PortInUseIsAClearError) {
  Overlay first({"--demo", "--web=0", "--output=none", "--duration=30"});
  CliProcess second(CliSpawn(
      {danmaku_bin(), "--demo", "--output=none", "--web=" + std::to_string(first.addr.port())}));
  const auto status = second.wait(20);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 1);
  EXPECT_NE(second.err().find("--web: cannot listen on 127.0.0.1:" +
                              std::to_string(first.addr.port()) + ": Address already in use"),
            std::string::npos)
      << second.err();
}

}  // namespace
}  // namespace asyncore::web::test

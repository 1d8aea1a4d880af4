// douyu_danmaku: its flags (parse_options), its text/jsonl lines, and the binary itself run
// end to end against its own --demo simulator.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "douyu/douyu_server.h"
#include "douyu/message.h"
#include "samples/danmaku/format.h"
#include "samples/danmaku/options.h"
#include "tests/client/client_test_util.h"
#include "tests/core/test_util.h"
#include "tests/douyu/json_validator.h"

namespace {

using danmaku::Output;
using danmaku::parse_options;

TEST(DanmakuOptions, Defaults) {
  auto r = parse_options({"--room=9999"});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_EQ(r.options->rooms, std::vector<std::string>{"9999"});
  EXPECT_EQ(r.options->host, "openbarrage.douyutv.com");
  EXPECT_EQ(r.options->port, 8601);
  EXPECT_EQ(r.options->heartbeat, 45);
  EXPECT_TRUE(r.options->reconnect);
  EXPECT_EQ(r.options->output, Output::kText);
}

TEST(DanmakuOptions, EqualsAndSpaceFormsRepeatableAndCommaRooms) {
  auto r = parse_options({"--room=1,2", "--room", "3", "--output=jsonl", "--types=chatmsg,dgb",
                          "--max-messages", "7", "--duration=1.5", "--heartbeat=2", "--noreconnect",
                          "--stats", "--host=127.0.0.1", "--port=9000"});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_EQ(r.options->rooms, (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_EQ(r.options->output, Output::kJsonl);
  EXPECT_EQ(r.options->types, (std::set<std::string>{"chatmsg", "dgb"}));
  EXPECT_EQ(r.options->max_messages, 7u);
  EXPECT_DOUBLE_EQ(r.options->duration, 1.5);
  EXPECT_DOUBLE_EQ(r.options->heartbeat, 2);
  EXPECT_FALSE(r.options->reconnect);
  EXPECT_TRUE(r.options->stats);
  EXPECT_EQ(r.options->port, 9000);
}

TEST(DanmakuOptions, DemoNeedsNoRoom) {
  auto r = parse_options({"--demo"});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_TRUE(r.options->demo);
  EXPECT_EQ(r.options->rooms.size(), 1u);
}

TEST(DanmakuOptions, UsageErrors) {
  for (std::vector<std::string> args :
       std::vector<std::vector<std::string>>{{},                              // no room
                                             {"--room=abc"},                  // not numeric
                                             {"--room=1", "--output=xml"},    // bad format
                                             {"--room=1", "--port=70000"},    // bad port
                                             {"--room=1", "--bogus"},         // unknown flag
                                             {"--room=1", "--max-messages"},  // missing value
                                             {"--room=1", "--demo=yes"},      // switch with a value
                                             {"--room=1", "--heartbeat=0"},   // zero interval
                                             {"--room=1", "--port= 80"},      // not digits
                                             {"--room=1", "--max-messages=-1"},
                                             {"room=1"}}) {  // not a flag
    auto r = parse_options(args);
    EXPECT_FALSE(r.options) << "accepted: " << (args.empty() ? "(nothing)" : args.back());
    EXPECT_FALSE(r.error.empty());
  }
  EXPECT_TRUE(parse_options({"--help"}).help);
}

// Item 5: a heartbeat that floods the server (1 ms) or overflows the millisecond conversion.
TEST(DanmakuOptions, HeartbeatOutsideATenthOfASecondToADayIsAUsageError) {
  for (const char* ok : {"0.1", "1", "45", "86400"}) {
    auto r = parse_options({"--room=1", std::string("--heartbeat=") + ok});
    ASSERT_TRUE(r.options) << ok << ": " << r.error;
  }
  for (const char* bad :
       {"0", "0.001", "0.0999", "86400.5", "1e300", "-1", "nan", "inf", "1e-400"}) {
    auto r = parse_options({"--room=1", std::string("--heartbeat=") + bad});
    EXPECT_FALSE(r.options) << bad;
    EXPECT_NE(r.error.find("--heartbeat"), std::string::npos) << r.error;
  }
  EXPECT_NE(parse_options({"--room=1", "--heartbeat=0.01"}).error.find("0.1 .. 86400"),
            std::string::npos);
}

// Item 7: values no clock can hold are usage errors, for every numeric flag.
TEST(DanmakuOptions, NumbersTheClockOrTheTypeCannotHoldAreUsageErrors) {
  for (std::vector<std::string> bad :
       std::vector<std::vector<std::string>>{{"--duration=1e300"},
                                             {"--duration=1e10"},
                                             {"--duration=inf"},
                                             {"--duration=1e-300"},
                                             {"--duration=-0.5"},
                                             {"--duration=0x"},
                                             {"--demo-rate=1e300"},
                                             {"--demo-rate=-1"},
                                             {"--max-messages=18446744073709551616"},
                                             {"--max-messages=1e3"},
                                             {"--demo-flood=99999999999999999999"},
                                             {"--port=65536"},
                                             {"--port=+80"},
                                             {"--drain-timeout=1e9"},
                                             {"--drain-timeout=-1"}}) {
    bad.insert(bad.begin(), "--room=1");
    auto r = parse_options(bad);
    EXPECT_FALSE(r.options) << "accepted: " << bad.back();
  }
  auto r = parse_options({"--room=1", "--duration=1e9", "--demo-rate=1000000",
                          "--max-messages=18446744073709551615", "--duration=0"});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_EQ(r.options->duration, 0);
  EXPECT_EQ(r.options->max_messages, UINT64_MAX);
  EXPECT_NE(parse_options({"--room=1", "--duration=1e300"}).error.find("0.001 .. 1e+09"),
            std::string::npos);
}

// Item 10: a room given twice (also as 007 and 7) is one connection, with a warning.
TEST(DanmakuOptions, RepeatedRoomsAreMergedWithAWarning) {
  auto r = parse_options({"--room=1,1", "--room=1", "--room=7,2", "--room=007"});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_EQ(r.options->rooms, (std::vector<std::string>{"1", "7", "2"}));
  ASSERT_EQ(r.warnings.size(), 2u);
  EXPECT_EQ(r.warnings[0], "room 1 given 3 times: connecting to it once");
  EXPECT_EQ(r.warnings[1], "room 7 given 2 times: connecting to it once");
  EXPECT_TRUE(parse_options({"--room=1,2"}).warnings.empty());
}

TEST(DanmakuFormat, ChatLine) {
  asyncore::douyu::Message m(
      "type@=chatmsg/rid@=9999/uid@=1/nn@=小明/txt@=主播好👋/level@=12/col@=1/");
  EXPECT_EQ(danmaku::format_text("9999", m, false), "[9999] <lv 12> 小明: 主播好👋\n");
  const std::string colored = danmaku::format_text("9999", m, true);
  EXPECT_NE(colored.find("\033[31m主播好👋"), std::string::npos);
}

TEST(DanmakuFormat, NewlinesInValuesStayOnOneLine) {
  asyncore::douyu::Message m("type@=chatmsg/nn@=a/txt@=line1\nline2/level@=1/");
  EXPECT_EQ(danmaku::format_text("1", m, false), "[1] <lv 1> a: line1 line2\n");
}

TEST(DanmakuFormat, UnknownTypeShowsItsFields) {
  asyncore::douyu::Message m("type@=qausrespond/x@=1/y@=2/");
  EXPECT_EQ(danmaku::format_text("5", m, false), "[5] qausrespond x=1 y=2\n");
}

TEST(DanmakuFormat, JsonlKeepsWireOrderAndTheFirstOfARepeatedKey) {
  asyncore::douyu::Message m("type@=chatmsg/rid@=1/rid@=2/txt@=\"q\"/");
  EXPECT_EQ(danmaku::format_jsonl(m),
            "{\"type\":\"chatmsg\",\"rid\":\"1\",\"txt\":\"\\\"q\\\"\"}\n");
}

// Item 9: one rule everywhere — the first occurrence of a key wins (Message::get's rule).
TEST(DanmakuFormat, RepeatedTypeIsTheFirstInTextAndJsonAlike) {
  asyncore::douyu::Message m("type@=uenter/nn@=a/type@=chatmsg/txt@=spoof/level@=3/");
  EXPECT_EQ(danmaku::format_jsonl(m), R"({"type":"uenter","nn":"a","txt":"spoof","level":"3"})"
                                      "\n");
  EXPECT_EQ(danmaku::format_text("1", m, false), "[1] -> a (lv 3) entered\n");
  asyncore::douyu::Message other("type@=qausrespond/x@=1/type@=chatmsg/x@=2/");
  EXPECT_EQ(danmaku::format_text("5", other, false), "[5] qausrespond x=1\n");
}

// Item 11: nothing from the wire reaches a terminal as a control; the CLI's colours remain.
TEST(DanmakuFormat, TextNeutralisesTerminalControlsFromTheWire) {
  asyncore::douyu::Message m(
      "type@=chatmsg/nn@=evil\x1b]0;pwned\x07\x1b[2J/txt@=a\x7f\xc2\x9b"
      "31mb\xe2\x80\xae"
      "c\x9b\x01/"
      "level@=1/col@=1/");
  const std::string plain = danmaku::format_text("1", m, false);
  EXPECT_EQ(
      plain,
      "[1] <lv 1> evil\\x1b]0;pwned\\x07\\x1b[2J: a\\x7f\\x9b31mb\\u202ec\xEF\xBF\xBD\\x01\n");
  const std::string colored = danmaku::format_text("1", m, true);
  for (size_t i = 0; i < colored.size(); ++i) {
    const auto c = static_cast<unsigned char>(colored[i]);
    if (c == 0x1b) {
      EXPECT_EQ(colored[i + 1], '[');  // a colour of ours: ESC [ digits ; m
      size_t j = i + 2;
      while (j < colored.size() &&
             (std::isdigit(static_cast<unsigned char>(colored[j])) || colored[j] == ';')) {
        ++j;
      }
      EXPECT_EQ(colored[j], 'm') << colored.substr(i);
    } else {
      EXPECT_TRUE(c >= 0x20 || c == '\n') << "byte " << int(c) << " at " << i;
    }
  }
  EXPECT_NE(colored.find("\033[31m"), std::string::npos);  // the chat colour is kept
  // Printable Unicode and tabs/newlines (made spaces) stay readable.
  std::string out;
  danmaku::append_sanitized(out, "主播\t好\n👋\xc2\xa0");
  EXPECT_EQ(out, "主播 好 👋\xc2\xa0");
}

TEST(DanmakuFormat, JsonlEscapesTerminalControlsToo) {
  asyncore::douyu::Message m(
      "type@=chatmsg/nn@=evil\x1b]0;pwned\x07\x1b[2J/txt@=\xc2\x9b\xe2\x80\xae/");
  const std::string line = danmaku::format_jsonl(m);
  EXPECT_EQ(line,
            R"({"type":"chatmsg","nn":"evil\u001b]0;pwned\u0007\u001b[2J","txt":"\u009b\u202e"})"
            "\n");
}

// ---------------------------------------------------------------- the binary

struct CliRun {
  int status = -1;
  std::string out;
};

// Runs douyu_danmaku; `out` is its stdout (or stdout and stderr, with merge_stderr).
CliRun run_cli(const std::string& args, bool merge_stderr = false) {
  const std::string cmd = std::string(ASYNCORE_BIN_DIR) + "/douyu_danmaku " + args +
                          (merge_stderr ? " 2>&1" : " 2>/dev/null");
  CliRun r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) r.out.append(buf, n);
  const int raw = ::pclose(p);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return r;
}

TEST(DanmakuBinary, DemoJsonlPrintsExactlyNValidObjects) {
  CliRun r = run_cli("--demo --demo-rate=500 --max-messages=40 --output=jsonl --duration=30");
  ASSERT_EQ(r.status, 0);
  std::istringstream in(r.out);
  int lines = 0;
  for (std::string line; std::getline(in, line); ++lines) {
    EXPECT_TRUE(asyncore::douyu::testing::JsonValidator(line).validate()) << line;
    EXPECT_EQ(line.rfind("{\"type\":\"", 0), 0u) << line;
  }
  EXPECT_EQ(lines, 40);
}

TEST(DanmakuBinary, TypesFilter) {
  CliRun r = run_cli(
      "--demo --demo-rate=500 --max-messages=20 --types=chatmsg --output=jsonl --duration=30");
  ASSERT_EQ(r.status, 0);
  std::istringstream in(r.out);
  int lines = 0;
  for (std::string line; std::getline(in, line); ++lines) {
    EXPECT_EQ(line.rfind("{\"type\":\"chatmsg\"", 0), 0u) << line;
  }
  EXPECT_EQ(lines, 20);
}

TEST(DanmakuBinary, DurationEndsCleanly) {
  CliRun r = run_cli("--demo --output=none --duration=0.5");
  EXPECT_EQ(r.status, 0);
}

TEST(DanmakuBinary, CannotConnectWithNoReconnectExitsOne) {
  CliRun r = run_cli("--room=1 --host=127.0.0.1 --port=1 --noreconnect", true);
  EXPECT_EQ(r.status, 1);
  // The last line names host, port and reason.
  EXPECT_NE(r.out.find("cannot keep a connection to 127.0.0.1:1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Connection refused"), std::string::npos) << r.out;
}

TEST(DanmakuBinary, UsageErrorExitsTwoHelpExitsZero) {
  EXPECT_EQ(run_cli("--room=x").status, 2);
  EXPECT_EQ(run_cli("--frobnicate").status, 2);
  CliRun help = run_cli("--help");
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("--max-messages"), std::string::npos);
  EXPECT_EQ(help.out.find("--logtostderr"), std::string::npos) << "lists other libraries' flags";
}

// A signal ends the run cleanly: logout reaches the server, exit status 0, output was printed.
void expect_signal_ends_cleanly(int sig) {
  using namespace asyncore;
  Loop loop;
  auto server = make_dispatcher<douyu::DouyuServer>(loop, Address::ipv4_loopback(0),
                                                    douyu::SimulatorOptions{.rate = 200});
  int joins = 0, logouts = 0;
  server->on_request = [&](const douyu::Message& m, const Address&) {
    joins += m.type() == "joingroup";
    logouts += m.type() == "logout";
  };
  client_test::Child cli({std::string(ASYNCORE_BIN_DIR) + "/douyu_danmaku", "--host=127.0.0.1",
                          "--port=" + std::to_string(server->address().port()), "--room=9999"});
  ASSERT_TRUE(test::run_until(
      loop, [&] { return joins == 1 && server->stats().room_messages_sent >= 5; }, 20));
  cli.signal(sig);
  ASSERT_TRUE(test::run_until(
      loop, [&] { return logouts == 1 && cli.try_wait(); }, 20));
  ASSERT_TRUE(WIFEXITED(*cli.try_wait()));
  EXPECT_EQ(WEXITSTATUS(*cli.try_wait()), 0);
  EXPECT_NE(cli.read_all(5).find("[9999] "), std::string::npos);
}

TEST(DanmakuBinary, SigintSendsLogoutAndExitsZero) { expect_signal_ends_cleanly(SIGINT); }
TEST(DanmakuBinary, SigtermSendsLogoutAndExitsZero) { expect_signal_ends_cleanly(SIGTERM); }

}  // namespace

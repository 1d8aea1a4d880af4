// douyu_danmaku's command line: parse_options (samples/danmaku/options.h) on gflags: every rule
// and message, called again and again in one process (each call starts from the defaults).
#include <gflags/gflags.h>
#include <glog/logging.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "douyu/protocol/endpoint.h"
#include "samples/danmaku/options.h"

namespace {

using asyncore::douyu::douyu_default_endpoint;
using asyncore::douyu::Endpoint;
using asyncore::douyu::Transport;
using danmaku::endpoint_of;
using danmaku::Options;
using danmaku::Output;
using danmaku::parse_options;
using danmaku::ParseResult;

// The usage error for `args`; the test fails if they were accepted.
std::string error_of(const std::vector<std::string>& args) {
  ParseResult r = parse_options(args);
  EXPECT_FALSE(r.options) << "accepted: " << (args.empty() ? "(nothing)" : args.back());
  EXPECT_FALSE(r.error.empty());
  return r.error;
}

// The options for `args`; the test fails if they were refused.
Options options_of(const std::vector<std::string>& args) {
  ParseResult r = parse_options(args);
  EXPECT_TRUE(r.options) << r.error;
  return r.options.value_or(Options{});
}

std::vector<std::string> warnings_of(const std::vector<std::string>& args) {
  ParseResult r = parse_options(args);
  EXPECT_TRUE(r.options) << r.error;
  return r.warnings;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(DanmakuOptions, Defaults) {
  auto r = parse_options({"--room=9999"});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_EQ(r.options->rooms, std::vector<std::string>{"9999"});
  EXPECT_EQ(r.options->host, "openbarrage.douyutv.com");
  EXPECT_EQ(r.options->port, 8601);
  EXPECT_FALSE(r.options->host_given);
  EXPECT_FALSE(r.options->url);
  EXPECT_EQ(r.options->heartbeat, 45);
  EXPECT_TRUE(r.options->reconnect);
  EXPECT_EQ(r.options->output, Output::kText);
  EXPECT_EQ(r.options->decode, danmaku::Decode::kLazy);
  EXPECT_TRUE(r.options->ca_file.empty());
  EXPECT_FALSE(r.options->insecure);
  EXPECT_FALSE(r.options->tls_compat);
  EXPECT_TRUE(r.warnings.empty());
  // A real room, without --url/--host: Douyu's WebSocket proxy.
  EXPECT_EQ(endpoint_of(*r.options), douyu_default_endpoint());
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
  EXPECT_EQ(r.options->host, "127.0.0.1");
  EXPECT_EQ(r.options->port, 9000);
  // --types adds up over repeats too.
  EXPECT_EQ(options_of({"--room=1", "--types=a", "--types", "b,c"}).types,
            (std::set<std::string>{"a", "b", "c"}));
}

TEST(DanmakuOptions, DemoNeedsNoRoom) {
  auto r = parse_options({"--demo"});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_TRUE(r.options->demo);
  EXPECT_EQ(r.options->rooms, std::vector<std::string>{"9999"});
}

TEST(DanmakuOptions, UsageErrors) {
  for (std::vector<std::string> args :
       std::vector<std::vector<std::string>>{{},                              // no room
                                             {"--room=abc"},                  // not numeric
                                             {"--room=,"},                    // no room at all
                                             {"--room=1", "--output=xml"},    // bad format
                                             {"--room=1", "--decode=raw"},    // bad mode
                                             {"--room=1", "--types=,"},       // no type
                                             {"--room=1", "--port=70000"},    // bad port
                                             {"--room=1", "--port=0"},        // bad port
                                             {"--room=1", "--host="},         // empty host
                                             {"--room=1", "--bogus"},         // unknown flag
                                             {"--room=1", "--max-messages"},  // missing value
                                             {"--room=1", "--demo=maybe"},    // not a boolean
                                             {"--room=1", "--nodemo=1"},      // --noX has no value
                                             {"--room=1", "--nohost"},        // --noX: not a bool
                                             {"--room=1", "--heartbeat=0"},   // zero interval
                                             {"--room=1", "--port= 80"},      // not digits
                                             {"--room=1", "--max-messages=-1"},
                                             {"room=1"},                       // not a flag
                                             {"--room=1", "--", "--demo"}}) {  // after "--"
    error_of(args);
  }
  EXPECT_TRUE(parse_options({"--help"}).help);
  EXPECT_TRUE(parse_options({"-h"}).help);
  EXPECT_TRUE(parse_options({"--room=1", "-help"}).help);
}

// The messages main() prints after "douyu_danmaku: ".
TEST(DanmakuOptions, UsageErrorMessages) {
  EXPECT_EQ(error_of({"--room=1", "--bogus"}), "unknown flag --bogus");
  EXPECT_EQ(error_of({"--room=1", "--bogus=1"}), "unknown flag --bogus");
  EXPECT_EQ(error_of({"--room=1", "--max-messages"}), "--max-messages needs a value");
  EXPECT_EQ(error_of({"--room=1", "--nodemo=1"}), "--nodemo takes no value");
  EXPECT_EQ(error_of({"--room=1", "--demo=maybe"}), "--demo: bad value 'maybe' (true or false)");
  EXPECT_EQ(error_of({"--room=1", "--output=xml"}),
            "--output: bad value 'xml' (text, jsonl or none)");
  EXPECT_EQ(error_of({"--room=1", "--port=70000"}),
            "--port: bad value '70000' (allowed: 1 .. 65535)");
  EXPECT_EQ(error_of({"--room=1", "--max-messages=-1"}),
            "--max-messages: bad value '-1' (not a non-negative decimal integer in range)");
  EXPECT_EQ(error_of({"room=1"}), "unexpected argument 'room=1'");
  EXPECT_EQ(error_of({}), "give --room=ID (or --demo)");
  // The flag is named as it was written.
  EXPECT_EQ(error_of({"--room=1", "-demo_rate=-1"}),
            "-demo_rate: bad value '-1' (allowed: 0 or 0 .. 1e+06)");
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
    EXPECT_TRUE(contains(r.error, "--heartbeat")) << r.error;
  }
  EXPECT_TRUE(contains(error_of({"--room=1", "--heartbeat=0.01"}), "0.1 .. 86400"));
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
    error_of(bad);
  }
  auto r = parse_options({"--room=1", "--duration=1e9", "--demo-rate=1000000",
                          "--max-messages=18446744073709551615", "--duration=0"});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_EQ(r.options->duration, 0);
  EXPECT_EQ(r.options->max_messages, UINT64_MAX);
  EXPECT_TRUE(contains(error_of({"--room=1", "--duration=1e300"}), "0.001 .. 1e+09"));
}

// gflags reads integers with strtoll/strtoull (blanks, '+', 0x..., and "\t-1" as 2^64-1 for an
// unsigned flag): ours take plain decimal digits, as before gflags.
TEST(DanmakuOptions, IntegersAreDigitsOnly) {
  for (const char* bad :
       {"--port=+80", "--port= 80", "--port=0x50", "--max-messages=0x10", "--max-messages=\t-1",
        "--max-messages= 7", "--demo-flood=+1", "--port=", "--max-messages=-0"}) {
    EXPECT_TRUE(contains(error_of({"--room=1", bad}), "decimal integer")) << bad;
  }
  EXPECT_EQ(options_of({"--room=1", "--port=080"}).port, 80);
  EXPECT_EQ(error_of({"--room=1", "--port=-80"}), "--port: bad value '-80' (allowed: 1 .. 65535)");
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

// gflags keeps global values: each call must start from the defaults, not the last call's flags.
TEST(DanmakuOptions, EachCallStartsFromTheDefaults) {
  options_of({"--room=5", "--heartbeat=2", "--noreconnect", "--url=tcp://h:1", "--output=none",
              "--types=dgb", "--insecure", "--demo", "--max-messages=9", "--decode=typed"});
  const Options o = options_of({"--room=6"});
  EXPECT_EQ(o.rooms, std::vector<std::string>{"6"});
  EXPECT_EQ(o.heartbeat, 45);
  EXPECT_TRUE(o.reconnect);
  EXPECT_FALSE(o.url);
  EXPECT_EQ(o.output, Output::kText);
  EXPECT_TRUE(o.types.empty());
  EXPECT_FALSE(o.insecure);
  EXPECT_FALSE(o.demo);
  EXPECT_EQ(o.max_messages, 0u);
  EXPECT_EQ(o.decode, danmaku::Decode::kLazy);
  // Even after a refused command line.
  error_of({"--room=1", "--port=9", "--bogus"});
  EXPECT_FALSE(options_of({"--room=1"}).host_given);
  EXPECT_EQ(options_of({"--room=1"}).port, 8601);
}

TEST(DanmakuOptions, DecodeModes) {
  EXPECT_EQ(options_of({"--room=1", "--decode=lazy"}).decode, danmaku::Decode::kLazy);
  EXPECT_EQ(options_of({"--room=1", "--decode=fields"}).decode, danmaku::Decode::kFields);
  EXPECT_EQ(options_of({"--room=1", "--decode=typed"}).decode, danmaku::Decode::kTyped);
  EXPECT_TRUE(contains(error_of({"--room=1", "--decode=eager"}), "lazy, fields or typed"));
}

// gflags' syntax: one dash or two, --a-b is --a_b, --noX and --X=false for switches.
TEST(DanmakuOptions, GflagsSyntax) {
  EXPECT_EQ(options_of({"--room=1", "--demo_rate=5"}).demo_rate, 5);
  EXPECT_EQ(options_of({"-room=1", "-demo-rate", "6"}).demo_rate, 6);
  EXPECT_FALSE(options_of({"--room=1", "--reconnect=false"}).reconnect);
  EXPECT_FALSE(options_of({"--room=1", "--noreconnect"}).reconnect);
  EXPECT_TRUE(options_of({"--room=1", "--noreconnect", "--reconnect"}).reconnect);
  EXPECT_TRUE(options_of({"--room=1", "--stats=yes"}).stats);
  EXPECT_FALSE(options_of({"--demo", "--nodemo", "--room=1"}).demo);
  // A valued flag takes the next argument whatever it looks like, as before.
  EXPECT_EQ(options_of({"--room=1", "--host", "--h"}).host, "--h");
}

// gflags' own flags would read files or the environment, or print and exit(1): refused.
TEST(DanmakuOptions, GflagsOwnFlagsAreRefused) {
  for (const char* flag : {"--flagfile=/dev/null", "--fromenv=room", "--tryfromenv=room",
                           "--undefok=x", "--helpfull", "--helpshort", "--version"}) {
    EXPECT_TRUE(contains(error_of({"--room=1", flag}), "unknown flag")) << flag;
  }
}

// glog's flags come with gflags, and stay set for main() (which then starts glog).
TEST(DanmakuOptions, GlogFlagsAreAccepted) {
  gflags::FlagSaver restore_glog_flags;
  options_of({"--room=1", "--v=2", "--minloglevel=1", "--nologtostderr"});
  EXPECT_EQ(FLAGS_v, 2);
  EXPECT_EQ(FLAGS_minloglevel, 1);
  EXPECT_FALSE(FLAGS_logtostderr);
  EXPECT_EQ(error_of({"--room=1", "--v=x"}), "--v: bad value 'x' (not a decimal integer in range)");
  options_of({"--room=1"});
  EXPECT_EQ(FLAGS_v, 0) << "a later call resets glog's flags too";
}

TEST(DanmakuOptions, HelpNamesEveryFlagAndGlogs) {
  const std::string help = danmaku::usage();
  for (const char* flag :
       {"--room=",         "--url=",          "--host=",         "--port=",
        "--ca-file=",      "--insecure",      "--tls-compat",    "--demo",
        "--demo-rate=",    "--demo-flood=",   "--output=",       "--types=",
        "--max-messages=", "--duration=",     "--heartbeat=",    "--drain-timeout=",
        "--noreconnect",   "--stats",         "--decode=",       "--help",
        "--v=N",           "--minloglevel=N", "--nologtostderr", "--log_dir="}) {
    EXPECT_TRUE(contains(help, flag)) << flag;
  }
  EXPECT_TRUE(contains(help, "wss://danmuproxy.douyu.com:8501..8506/"));
  EXPECT_TRUE(contains(help, "tests only"));
  EXPECT_TRUE(contains(help, "DEFAULT:@SECLEVEL=1"));
  EXPECT_TRUE(contains(help, "2 usage error"));
}

// --room also takes the room page's URL; a vanity name says where the number is.
TEST(DanmakuOptions, RoomPageUrls) {
  EXPECT_EQ(options_of({"--room=https://www.douyu.com/9999,douyu.com/topic/x?rid=288016", "--room",
                        "https://m.douyu.com/42"})
                .rooms,
            (std::vector<std::string>{"9999", "288016", "42"}));
  auto r = parse_options({"--room=https://www.douyu.com/9999", "--room=9999"});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_EQ(r.options->rooms, std::vector<std::string>{"9999"});
  EXPECT_EQ(r.warnings, std::vector<std::string>{"room 9999 given 2 times: connecting to it once"});
  for (const char* vanity : {"--room=https://www.douyu.com/xiaozhi", "--room=xiaozhi"}) {
    const std::string error = error_of({vanity});
    EXPECT_EQ(error.rfind("--room: ", 0), 0u) << error;
    EXPECT_TRUE(contains(error, "use the numeric room id")) << error;
    EXPECT_TRUE(contains(error, "rid")) << error;
    EXPECT_TRUE(contains(error, "\"room_id\"")) << error;
  }
  EXPECT_TRUE(contains(error_of({"--room=https://www.huya.com/9999"}), "douyu.com"));
}

TEST(DanmakuOptions, UrlSetsTheEndpoint) {
  const Options o = options_of({"--room=1", "--url=WSS://[::1]:8502/sub?x=1"});
  ASSERT_TRUE(o.url);
  EXPECT_EQ(*o.url, (Endpoint{Transport::kWss, "::1", 8502, "/sub?x=1"}));
  EXPECT_EQ(endpoint_of(o), *o.url);
  EXPECT_FALSE(o.host_given);
  EXPECT_EQ(endpoint_of(options_of({"--room=1", "--url=tcp://127.0.0.1:9"})),
            (Endpoint{Transport::kTcp, "127.0.0.1", 9, "/"}));
  EXPECT_EQ(endpoint_of(options_of({"--room=1", "--url", "ws://h"})),
            (Endpoint{Transport::kWs, "h", 80, "/"}));
}

TEST(DanmakuOptions, BadUrlIsAUsageErrorWithParseEndpointsMessage) {
  EXPECT_EQ(error_of({"--room=1", "--url=http://h"}),
            "--url: URL \"http://h\": unknown scheme \"http\" (tcp, ws or wss)");
  EXPECT_TRUE(contains(error_of({"--room=1", "--url=h:1"}), "no scheme"));
  EXPECT_TRUE(contains(error_of({"--room=1", "--url=tcp://h:0"}), "bad port"));
  EXPECT_TRUE(contains(error_of({"--room=1", "--url="}), "--url: "));
}

TEST(DanmakuOptions, UrlWithHostOrPortIsAUsageError) {
  for (const char* other : {"--host=h", "--port=1", "--host=openbarrage.douyutv.com"}) {
    EXPECT_EQ(error_of({"--room=1", "--url=tcp://h", other}),
              "--url and --host/--port both say where to connect: give one")
        << other;
    error_of({"--room=1", other, "--url=wss://h"});
  }
}

// --host and --port keep meaning the historic TCP endpoint, one part at a time.
TEST(DanmakuOptions, HostAndPortMeanTcp) {
  Options o = options_of({"--room=1", "--host=10.0.0.1"});
  EXPECT_TRUE(o.host_given);
  EXPECT_EQ(endpoint_of(o), (Endpoint{Transport::kTcp, "10.0.0.1", 8601, "/"}));
  o = options_of({"--room=1", "--port=9000"});
  EXPECT_TRUE(o.host_given);
  EXPECT_EQ(endpoint_of(o), (Endpoint{Transport::kTcp, "openbarrage.douyutv.com", 9000, "/"}));
  // Given at its default value still counts as given.
  EXPECT_EQ(endpoint_of(options_of({"--room=1", "--port=8601"})).transport, Transport::kTcp);
}

// --demo connects to its simulator over TCP (main() fills host/port); where-to-connect flags are
// ignored, with a warning.
TEST(DanmakuOptions, DemoIsTcpToTheSimulator) {
  Options o = options_of({"--demo"});
  o.host = "127.0.0.1";
  o.port = 4000;
  EXPECT_EQ(endpoint_of(o), (Endpoint{Transport::kTcp, "127.0.0.1", 4000, "/"}));
  EXPECT_TRUE(warnings_of({"--demo"}).empty());
  for (const char* where : {"--url=wss://h", "--host=h"}) {
    const auto w = warnings_of({"--demo", where});
    ASSERT_EQ(w.size(), 1u) << where;
    EXPECT_TRUE(contains(w[0], "--demo connects to its in-process simulator")) << w[0];
  }
}

class DanmakuTlsOptions : public ::testing::Test {
 protected:
  void SetUp() override {
    // One file per test process: CTest runs this fixture's tests in parallel, and one test's
    // TearDown removing a shared file failed another (seen under TSan in CI).
    pem_ = ::testing::TempDir() + "danmaku_options_test_ca." + std::to_string(::getpid()) + "." +
           ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".pem";
    std::ofstream(pem_) << "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n";
  }
  void TearDown() override { std::remove(pem_.c_str()); }
  std::string pem_;
};

TEST_F(DanmakuTlsOptions, WssFlagsAreKept) {
  const Options o = options_of({"--room=1", "--ca-file=" + pem_, "--tls-compat"});
  EXPECT_EQ(o.ca_file, pem_);
  EXPECT_TRUE(o.tls_compat);
  EXPECT_FALSE(o.insecure);
  EXPECT_TRUE(options_of({"--room=1", "--insecure", "--url=wss://127.0.0.1:8443/"}).insecure);
  // The default endpoint and any wss:// URL are wss: no warning.
  EXPECT_TRUE(warnings_of({"--room=1", "--ca-file", pem_}).empty());
  EXPECT_TRUE(warnings_of({"--room=1", "--insecure", "--tls-compat", "--url=wss://h"}).empty());
}

TEST_F(DanmakuTlsOptions, CaFileMustBeReadable) {
  EXPECT_TRUE(contains(error_of({"--room=1", "--ca-file=/nonexistent/ca.pem"}),
                       "--ca-file: cannot read '/nonexistent/ca.pem': No such file or directory"));
  EXPECT_TRUE(
      contains(error_of({"--room=1", "--ca-file=" + ::testing::TempDir()}), "is a directory"));
  EXPECT_TRUE(contains(error_of({"--room=1", "--ca-file="}), "--ca-file: bad value ''"));
}

TEST_F(DanmakuTlsOptions, InsecureWithCaFileIsAUsageError) {
  const std::string error = error_of({"--room=1", "--insecure", "--ca-file=" + pem_});
  EXPECT_TRUE(contains(error, "--insecure and --ca-file contradict each other")) << error;
  error_of({"--room=1", "--ca-file=" + pem_, "--insecure", "--url=wss://h"});
  // --noinsecure is not a contradiction.
  options_of({"--room=1", "--noinsecure", "--ca-file=" + pem_});
}

// Without wss the TLS flags mean nothing: a warning each, and the run goes on.
TEST_F(DanmakuTlsOptions, WssFlagsWithoutWssAreWarnedAbout) {
  auto w = warnings_of({"--room=1", "--url=tcp://h:1", "--insecure", "--tls-compat"});
  EXPECT_EQ(w, (std::vector<std::string>{"--insecure applies to wss:// only; ignored for tcp://h:1",
                                         "--tls-compat applies to wss:// only; ignored for "
                                         "tcp://h:1"}));
  w = warnings_of({"--room=1", "--url=ws://h", "--ca-file=" + pem_});
  EXPECT_EQ(w,
            std::vector<std::string>{"--ca-file applies to wss:// only; ignored for ws://h:80/"});
  w = warnings_of({"--room=1", "--host=h", "--tls-compat"});
  EXPECT_EQ(
      w, std::vector<std::string>{"--tls-compat applies to wss:// only; ignored for tcp://h:8601"});
  w = warnings_of({"--demo", "--insecure"});
  ASSERT_EQ(w.size(), 1u);
  EXPECT_TRUE(contains(w[0], "--insecure applies to wss:// only; ignored for --demo")) << w[0];
}

}  // namespace

// --web and --web-host: the browser overlay's server (docs/WEB.md).
TEST(DanmakuOptions, WebPortAndHost) {
  EXPECT_FALSE(options_of({"--demo"}).web_port) << "no server unless asked";
  EXPECT_EQ(options_of({"--demo"}).web_host, "127.0.0.1");
  EXPECT_EQ(options_of({"--demo", "--web=8080"}).web_port, std::optional<uint16_t>(8080));
  EXPECT_EQ(options_of({"--demo", "--web", "0"}).web_port, std::optional<uint16_t>(0));
  EXPECT_EQ(options_of({"--demo", "--web=65535"}).web_port, std::optional<uint16_t>(65535));
  EXPECT_EQ(options_of({"--demo", "--web=1", "--web-host=::1"}).web_host, "::1");
  EXPECT_EQ(options_of({"--demo", "--web=1", "--web_host=0.0.0.0"}).web_host, "0.0.0.0");
  EXPECT_EQ(error_of({"--demo", "--web=65536"}),
            "--web: bad value '65536' (allowed: 0 .. 65535; 0: a free port)");
  EXPECT_EQ(error_of({"--demo", "--web=-1"}),
            "--web: bad value '-1' (allowed: 0 .. 65535; 0: a free port)");
  EXPECT_TRUE(contains(error_of({"--demo", "--web=http"}), "--web: bad value 'http'"));
  EXPECT_EQ(error_of({"--demo", "--web=80", "--web-host=localhost"}),
            "--web-host: bad value 'localhost' (a numeric IPv4 or IPv6 address, e.g. 127.0.0.1 "
            "or ::1)");
  EXPECT_TRUE(contains(error_of({"--demo", "--web=80", "--web-host="}), "--web-host: bad value"));
  const auto w = warnings_of({"--demo", "--web-host=::1"});
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0], "--web-host applies with --web only; ignored");
  const std::string help = danmaku::usage();
  EXPECT_TRUE(contains(help, "--web=PORT"));
  EXPECT_TRUE(contains(help, "--web-host=ADDR"));
  EXPECT_TRUE(contains(help, "web overlay: http://HOST:PORT/"));
}

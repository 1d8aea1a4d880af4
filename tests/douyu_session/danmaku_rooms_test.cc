// Many rooms on the command line: the --rooms-file format, --shard's stable hash and split,
// --threads/--connect-rate/--stats-interval ranges, the --redis flags (the password never in an
// error), and the --stats report.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "samples/danmaku/options.h"
#include "samples/danmaku/rooms.h"
#include "samples/danmaku/stats_report.h"

namespace {

using danmaku::Options;
using danmaku::parse_options;
using danmaku::parse_rooms_text;
using danmaku::ParseResult;
using danmaku::RoomEntry;
using danmaku::Shard;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A rooms file for one test process (CTest runs tests in parallel).
class RoomsFile : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = ::testing::TempDir() + "danmaku_rooms_test." + std::to_string(::getpid()) + "." +
            ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".txt";
  }
  void TearDown() override { std::remove(path_.c_str()); }
  void write(const std::string& text) { std::ofstream(path_, std::ios::binary) << text; }
  ParseResult parse(std::vector<std::string> args) {
    args.push_back("--rooms-file=" + path_);
    return parse_options(args);
  }
  std::string path_;
};

std::vector<std::string> ids(const std::vector<RoomEntry>& entries) {
  std::vector<std::string> out;
  for (const RoomEntry& e : entries) out.push_back(e.id);
  return out;
}

TEST(RoomsText, IdsUrlsCommentsBlanksCrAndBom) {
  std::string error;
  const auto rooms = parse_rooms_text(
      "\xEF\xBB\xBF# my rooms\r\n"
      "9999\r\n"
      "\n"
      "   288   # the second, with a comment\n"
      "https://www.douyu.com/74751#top\n"  // '#' inside a URL is part of it
      "\t007\t\n"
      "   # indented comment\n"
      "https://www.douyu.com/topic/xyz?rid=5",  // no final newline
      "rooms.txt", &error);
  ASSERT_TRUE(rooms) << error;
  EXPECT_EQ(ids(*rooms), (std::vector<std::string>{"9999", "288", "74751", "7", "5"}));
  EXPECT_EQ((*rooms)[0].line, 2);
  EXPECT_EQ((*rooms)[1].line, 4);
  EXPECT_EQ((*rooms)[4].line, 8);
}

TEST(RoomsText, ABadEntryNamesTheFileAndLine) {
  std::string error;
  EXPECT_FALSE(parse_rooms_text("9999\n\nhttps://www.douyu.com/xiaozhi\n", "r.txt", &error));
  EXPECT_TRUE(contains(error, "r.txt:3: ")) << error;
  EXPECT_FALSE(parse_rooms_text("12#34\n", "r.txt", &error));  // '#' not after a space
  EXPECT_TRUE(contains(error, "r.txt:1: ")) << error;
  // A control byte is named, not printed (a NUL would cut the message short).
  EXPECT_FALSE(parse_rooms_text(std::string("9999\n12\0"
                                            "34\n",
                                            9),
                                "r.txt", &error));
  EXPECT_EQ(error, "r.txt:2: control byte 0x00 in the entry (not a room id or URL)");
  EXPECT_FALSE(parse_rooms_text("\x1b[31m9999\n", "r.txt", &error));
  EXPECT_EQ(error, "r.txt:1: control byte 0x1b in the entry (not a room id or URL)");
}

TEST(RoomsText, EmptyAndCommentOnlyTextsHaveNoRooms) {
  std::string error;
  for (const char* text : {"", "\n\n", "# nothing\n   \n#\n"}) {
    const auto rooms = parse_rooms_text(text, "r.txt", &error);
    ASSERT_TRUE(rooms) << error;
    EXPECT_TRUE(rooms->empty());
  }
}

// The documented hash (rooms.h, README): FNV-1a 64 of the canonical id, % N + 1. These values
// were computed with the Python in rooms.h's comment; a change here splits users' lists anew.
TEST(Shards, TheHashIsStableAndDocumented) {
  EXPECT_EQ(danmaku::room_hash(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(danmaku::room_hash("a"), 0xaf63dc4c8601ec8cULL);  // FNV-1a 64 test vector
  // shard_of(rid, 3) and (rid, 7) by the Python function of rooms.h's comment.
  const std::map<std::string, std::pair<uint32_t, uint32_t>> python = {
      {"9999", {1, 6}}, {"288", {2, 5}}, {"74751", {3, 5}}, {"1", {2, 2}}, {"123456789", {1, 1}}};
  for (const auto& [id, shards] : python) {
    EXPECT_EQ(danmaku::shard_of(id, 3), shards.first) << id;
    EXPECT_EQ(danmaku::shard_of(id, 7), shards.second) << id;
  }
}

TEST(Shards, ParseIOfN) {
  std::string error;
  const auto s = Shard::parse("2/3", &error);
  ASSERT_TRUE(s) << error;
  EXPECT_EQ(s->index, 2u);
  EXPECT_EQ(s->count, 3u);
  for (const char* bad : {"", "3", "0/3", "4/3", "1/0", "a/3", "1/3x", "-1/3", "1/1000001", "/"}) {
    EXPECT_FALSE(Shard::parse(bad, &error)) << bad;
    EXPECT_TRUE(contains(error, "I/N")) << error;
  }
}

TEST_F(RoomsFile, ShardsOfOneListCoverEveryRoomExactlyOnce) {
  std::string text;
  for (int rid = 1; rid <= 3000; ++rid) text += std::to_string(rid * 7 + 13) + "\n";
  write(text);
  std::map<std::string, int> seen;
  size_t smallest = SIZE_MAX;
  for (int i = 1; i <= 3; ++i) {
    ParseResult r = parse({"--shard=" + std::to_string(i) + "/3"});
    ASSERT_TRUE(r.options) << r.error;
    EXPECT_EQ(r.options->rooms_given, 3000u);
    smallest = std::min(smallest, r.options->rooms.size());
    for (const std::string& id : r.options->rooms) ++seen[id];
  }
  EXPECT_EQ(seen.size(), 3000u);
  for (const auto& [id, n] : seen) ASSERT_EQ(n, 1) << id;
  EXPECT_GT(smallest, 900u);  // a fair split: 1,000 each, give or take
}

TEST_F(RoomsFile, RoomsFlagsAndFileMergeInOrderOnce) {
  write("288\n9999\n# comment\n5\n");
  ParseResult r = parse({"--room=9999,1"});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_EQ(r.options->rooms, (std::vector<std::string>{"9999", "1", "288", "5"}));
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_TRUE(contains(r.warnings[0], "room 9999 given 2 times")) << r.warnings[0];
}

TEST_F(RoomsFile, ManyRepeatsAreSummarized) {
  std::string text;
  for (int i = 0; i < 2; ++i)
    for (int rid = 1; rid <= 50; ++rid) text += std::to_string(rid) + "\n";
  write(text);
  ParseResult r = parse({});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_EQ(r.options->rooms.size(), 50u);
  ASSERT_EQ(r.warnings.size(), 11u);
  EXPECT_TRUE(contains(r.warnings.back(), "40 more rooms")) << r.warnings.back();
}

TEST_F(RoomsFile, BadFileIsAUsageErrorWithFileAndLine) {
  write("9999\nnot-a-room\n");
  ParseResult r = parse({});
  EXPECT_FALSE(r.options);
  EXPECT_TRUE(contains(r.error, "--rooms-file: " + path_ + ":2: ")) << r.error;
  r = parse_options({"--rooms-file=/nonexistent/rooms.txt"});
  EXPECT_FALSE(r.options);
  EXPECT_TRUE(contains(r.error, "cannot read '/nonexistent/rooms.txt'")) << r.error;
  r = parse_options({"--rooms-file=/tmp"});
  EXPECT_TRUE(contains(r.error, "directory")) << r.error;
}

TEST_F(RoomsFile, EmptyFileOrEmptyShardGiveNoRoomsNotAnError) {
  write("# none yet\n");
  ParseResult r = parse({});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_TRUE(r.options->rooms.empty());
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_TRUE(contains(r.warnings[0], "lists no rooms"));
  write("9999\n");
  const uint32_t home = danmaku::shard_of("9999", 2);
  r = parse({"--shard=" + std::to_string(3 - home) + "/2"});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_TRUE(r.options->rooms.empty());
  EXPECT_EQ(r.options->rooms_given, 1u);
}

TEST(ManyRoomsOptions, ThreadsAutoAboveEightRooms) {
  ParseResult r = parse_options({"--room=1,2,3,4,5,6,7,8"});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_EQ(danmaku::pool_threads(*r.options), 0u);  // the tutorial's threads per room
  r = parse_options({"--room=1,2,3,4,5,6,7,8,9"});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_GE(danmaku::pool_threads(*r.options), 2u);
  r = parse_options({"--room=1", "--threads=3"});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_EQ(danmaku::pool_threads(*r.options), 3u);
  EXPECT_FALSE(parse_options({"--room=1", "--threads=1025"}).options);
  EXPECT_FALSE(parse_options({"--room=1", "--threads=-1"}).options);
}

TEST(ManyRoomsOptions, RatesAndIntervals) {
  ParseResult r = parse_options({"--room=1", "--connect-rate=0", "--stats-interval=0.5"});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_EQ(r.options->connect_rate, 0);
  EXPECT_EQ(r.options->stats_interval, 0.5);
  EXPECT_EQ(parse_options({"--room=1"}).options->connect_rate, 500);
  for (const char* bad : {"--connect-rate=-1", "--connect-rate=nan", "--stats-interval=0",
                          "--redis-flush-timeout=3601", "--shard=0/2"}) {
    EXPECT_FALSE(parse_options({"--room=1", bad}).options) << bad;
  }
}

TEST(RedisOptions, TargetTemplateAndBounds) {
  ParseResult r = parse_options({"--room=1", "--redis=127.0.0.1:6380", "--redis-stream=bar:{rid}",
                                 "--redis-maxlen=1000", "--redis-buffer=5"});
  ASSERT_TRUE(r.options) << r.error;
  ASSERT_TRUE(r.options->redis);
  EXPECT_EQ(r.options->redis->host, "127.0.0.1");
  EXPECT_EQ(r.options->redis->port, 6380);
  EXPECT_EQ(r.options->redis_stream, "bar:{rid}");
  EXPECT_EQ(r.options->redis_maxlen, 1000u);
  EXPECT_EQ(r.options->redis_buffer, 5u);
  EXPECT_FALSE(parse_options({"--room=1"}).options->redis);
  EXPECT_FALSE(parse_options({"--room=1", "--redis=x", "--redis-buffer=0"}).options);
  EXPECT_FALSE(parse_options({"--room=1", "--redis=x", "--redis-stream="}).options);
}

TEST(RedisOptions, APasswordNeverAppearsInAnError) {
  ParseResult r = parse_options({"--room=1", "--redis=redis://:s3cr3tpw@127.0.0.1:notaport"});
  ASSERT_FALSE(r.options);
  EXPECT_TRUE(contains(r.error, "--redis")) << r.error;
  EXPECT_FALSE(contains(r.error, "s3cr3tpw")) << r.error;
  r = parse_options({"--room=1", "--redis=redis://:s3cr3tpw@127.0.0.1:6379/2"});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_EQ(r.options->redis->password, "s3cr3tpw");
  EXPECT_EQ(r.options->redis->db, 2);
  EXPECT_FALSE(contains(r.options->redis->redacted(), "s3cr3tpw"));
}

TEST(RedisOptions, SinkFlagsWithoutRedisAreWarnedAbout) {
  ParseResult r = parse_options({"--room=1", "--redis-maxlen=5"});
  ASSERT_TRUE(r.options) << r.error;
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_TRUE(contains(r.warnings[0], "applies with --redis only")) << r.warnings[0];
}

TEST(StatsReport, RatesJoinedReconnectsSinkAndBusiest) {
  danmaku::StatsReport report;
  std::vector<std::string> names;
  for (int i = 0; i < 12; ++i) names.push_back(std::to_string(100 + i));
  std::vector<danmaku::RoomSample> rooms;
  for (int i = 0; i < 12; ++i) rooms.push_back({&names[i], 0, i % 2 == 0, 1});
  std::string text = report.report(1.0, rooms, 0, std::nullopt);
  EXPECT_EQ(text, "stats: 0 msg/s, 0 messages, 6/12 rooms joined, 12 reconnects\n");
  for (int i = 0; i < 12; ++i) rooms[i].delivered = 10 * (i + 1);  // room 111 busiest
  text = report.report(2.0, rooms, 780, danmaku::SinkSample{"redis://h:1", true, 700, 80, 3});
  EXPECT_TRUE(contains(text, "stats: 390 msg/s, 780 messages, 6/12 rooms joined")) << text;
  EXPECT_TRUE(contains(text,
                       "stats: redis redis://h:1 connected, 700 written, backlog 80, "
                       "3 dropped\n"))
      << text;
  EXPECT_TRUE(contains(text, "stats: busiest: 111 60/s, 110 55/s, 109 50/s")) << text;
  EXPECT_FALSE(contains(text, " 101 ")) << text;  // only the 10 busiest
  // The next interval counts only what is new.
  rooms[0].delivered += 4;
  text = report.report(1.0, rooms, 784, std::nullopt);
  EXPECT_TRUE(contains(text, "stats: 4 msg/s, 784 messages")) << text;
  EXPECT_TRUE(contains(text, "busiest: 100 4/s\n")) << text;
}

}  // namespace

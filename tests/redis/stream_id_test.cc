#include "redis/stream_id.h"

#include <gtest/gtest.h>

namespace asyncore::redis {
namespace {

TEST(StreamIdTest, NextIsStrictlyIncreasingWhateverTheClock) {
  EXPECT_EQ(next_stream_id(std::nullopt, 1000), (StreamId{1000, 0}));
  EXPECT_EQ(next_stream_id(StreamId{1000, 0}, 1000), (StreamId{1000, 1}));
  EXPECT_EQ(next_stream_id(StreamId{1000, 7}, 1001), (StreamId{1001, 0}));
  // The clock went back: keep the last ms, count seq up.
  EXPECT_EQ(next_stream_id(StreamId{1000, 7}, 10), (StreamId{1000, 8}));
}

TEST(StreamIdTest, ParseAndPrint) {
  EXPECT_EQ(StreamId::parse("1700000000000-3"), (StreamId{1700000000000, 3}));
  EXPECT_EQ(StreamId::parse("5"), (StreamId{5, 0}));
  EXPECT_EQ((StreamId{12, 34}).to_string(), "12-34");
  for (const char* bad : {"", "-1", "1-", "1-x", "x", "1-2-3", "1 -2"}) {
    EXPECT_FALSE(StreamId::parse(bad)) << bad;
  }
  EXPECT_LT((StreamId{1, 9}), (StreamId{2, 0}));
}

}  // namespace
}  // namespace asyncore::redis

#include "redis/redis_target.h"

#include <gtest/gtest.h>

namespace asyncore::redis {
namespace {

TEST(RedisTargetTest, HostPort) {
  std::string error;
  auto t = RedisTarget::parse("127.0.0.1:6380", &error);
  ASSERT_TRUE(t) << error;
  EXPECT_EQ(t->host, "127.0.0.1");
  EXPECT_EQ(t->port, 6380);
  EXPECT_EQ(t->db, 0);
  EXPECT_EQ(t->redacted(), "redis://127.0.0.1:6380/0");
  auto bare = RedisTarget::parse("localhost", &error);
  ASSERT_TRUE(bare) << error;
  EXPECT_EQ(bare->port, 6379);
}

TEST(RedisTargetTest, Ipv6NeedsBrackets) {
  std::string error;
  auto t = RedisTarget::parse("[::1]:6379", &error);
  ASSERT_TRUE(t) << error;
  EXPECT_EQ(t->host, "::1");
  EXPECT_EQ(t->host_port(), "[::1]:6379");
  EXPECT_FALSE(RedisTarget::parse("::1:6379", &error));
  EXPECT_NE(error.find("brackets"), std::string::npos) << error;
  EXPECT_FALSE(RedisTarget::parse("[::1", &error));
}

TEST(RedisTargetTest, UrlWithPasswordAndDb) {
  std::string error;
  auto t = RedisTarget::parse("redis://:p%40ss@w@127.0.0.1:6380/2", &error);
  ASSERT_TRUE(t) << error;
  EXPECT_EQ(t->password, "p@ss@w");
  EXPECT_EQ(t->host, "127.0.0.1");
  EXPECT_EQ(t->port, 6380);
  EXPECT_EQ(t->db, 2);
  EXPECT_EQ(t->redacted(), "redis://:***@127.0.0.1:6380/2");
  auto v6 = RedisTarget::parse("redis://[::1]:7000", &error);
  ASSERT_TRUE(v6) << error;
  EXPECT_EQ(v6->redacted(), "redis://[::1]:7000/0");
}

TEST(RedisTargetTest, ErrorsAreClearAndNeverShowThePassword) {
  const std::string secret = "hunter2secret";
  for (std::string bad :
       {"redis://:" + secret + "@127.0.0.1:99999/1", "redis://:" + secret + "@127.0.0.1:6379/x",
        "redis://user:" + secret + "@127.0.0.1:6379", "redis://:" + secret + "@",
        "redis://:" + secret + "%zz@h:1"}) {
    std::string error;
    EXPECT_FALSE(RedisTarget::parse(bad, &error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
    EXPECT_EQ(error.find(secret), std::string::npos) << error;
  }
  std::string error;
  EXPECT_FALSE(RedisTarget::parse("", &error));
  EXPECT_FALSE(RedisTarget::parse("h:0", &error));
  EXPECT_NE(error.find("bad port"), std::string::npos) << error;
  EXPECT_FALSE(RedisTarget::parse("h:", &error));
  EXPECT_FALSE(RedisTarget::parse("rediss://h:1", &error));
  EXPECT_FALSE(RedisTarget::parse("h:1/2", &error));
  EXPECT_FALSE(RedisTarget::parse(":6379", &error));
  EXPECT_FALSE(RedisTarget::parse("h:1", nullptr) == std::nullopt);  // null error pointer is fine
  EXPECT_FALSE(RedisTarget::parse("h:x", nullptr));
}

}  // namespace
}  // namespace asyncore::redis

// samples/danmaku/redis_password.h: the password from DOUYU_REDIS_PASSWORD when --redis has none,
// and a password given in --redis overwritten in the process's own argument area.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "samples/danmaku/redis_password.h"

namespace {

using danmaku::Options;

Options with_redis(const std::string& flag) {
  danmaku::ParseResult r = danmaku::parse_options({"--room=1", flag});
  EXPECT_TRUE(r.options) << r.error;
  return r.options.value_or(Options{});
}

TEST(DanmakuRedisPassword, TheEnvironmentGivesThePasswordOnlyWhenTheFlagHasNone) {
  Options o = with_redis("--redis=127.0.0.1:6379");
  danmaku::apply_redis_password_env(o, "from-env");
  ASSERT_TRUE(o.redis);
  EXPECT_EQ(o.redis->password, "from-env");

  o = with_redis("--redis=redis://:from-flag@127.0.0.1:6379");
  danmaku::apply_redis_password_env(o, "from-env");
  EXPECT_EQ(o.redis->password, "from-flag") << "the flag wins";

  o = with_redis("--redis=127.0.0.1:6379");
  danmaku::apply_redis_password_env(o, "");
  EXPECT_EQ(o.redis->password, "") << "an empty variable is no password";
  danmaku::apply_redis_password_env(o, nullptr);
  EXPECT_EQ(o.redis->password, "");

  o = with_redis("--output=jsonl");  // no --redis: nothing to give a password to
  danmaku::apply_redis_password_env(o, "from-env");
  EXPECT_FALSE(o.redis);
}

// argv as the kernel lays it out: each argument a writable NUL-terminated string.
struct Argv {
  explicit Argv(std::vector<std::string> args) : text(std::move(args)) {
    for (std::string& a : text) pointers.push_back(a.data());
    pointers.push_back(nullptr);
  }
  int argc() const { return static_cast<int>(text.size()); }
  char** argv() { return pointers.data(); }
  std::vector<std::string> text;
  std::vector<char*> pointers;
};

TEST(DanmakuRedisPassword, PasswordsInArgvAreOverwrittenInPlaceSameLength) {
  Argv a({"douyu_danmaku", "--room=1", "--redis=redis://:s3cret@db:6379/1", "--redis",
          "redis://:p@ss@[::1]:6380", "--redis=127.0.0.1:6379", "--txt=redis://:x",
          "redis://:@host"});
  EXPECT_EQ(danmaku::hide_redis_passwords(a.argc(), a.argv()), 2);
  EXPECT_EQ(a.text[1], "--room=1");
  EXPECT_EQ(a.text[2], "--redis=redis://:******@db:6379/1");
  EXPECT_EQ(a.text[3], "--redis");
  EXPECT_EQ(a.text[4], "redis://:****@[::1]:6380") << "up to the last '@', as the parser reads it";
  EXPECT_EQ(a.text[5], "--redis=127.0.0.1:6379");
  EXPECT_EQ(a.text[6], "--txt=redis://:x") << "no '@': no password to hide";
  EXPECT_EQ(a.text[7], "redis://:@host") << "empty: nothing to hide";
  // The program name is never touched, whatever it holds.
  Argv b({"redis://:name@x", "--room=1"});
  EXPECT_EQ(danmaku::hide_redis_passwords(b.argc(), b.argv()), 0);
  EXPECT_EQ(b.text[0], "redis://:name@x");
}

}  // namespace

// parse_room_id (douyu/protocol/room_id.h): numbers, room page URLs, and the refusals people will
// hit.
#include "douyu/protocol/room_id.h"

#include <gtest/gtest.h>

#include <string>

namespace asyncore::douyu {
namespace {

std::string id_of(const std::string& text) {
  std::string error;
  std::optional<std::string> id = parse_room_id(text, &error);
  EXPECT_TRUE(id.has_value()) << text << ": " << error;
  return id.value_or("");
}

std::string error_of(const std::string& text) {
  std::string error;
  EXPECT_FALSE(parse_room_id(text, &error).has_value()) << text;
  EXPECT_FALSE(error.empty()) << text;
  return error;
}

TEST(RoomIdTest, NumbersAreCanonical) {
  EXPECT_EQ(id_of("9999"), "9999");
  EXPECT_EQ(id_of("007"), "7");
  EXPECT_EQ(id_of("0"), "0");
  EXPECT_EQ(id_of("000"), "0");
  EXPECT_EQ(id_of("123456789012345678"), "123456789012345678");  // 18 digits
  EXPECT_NE(error_of("1234567890123456789").find("longer than 18 digits"), std::string::npos);
}

TEST(RoomIdTest, RoomPageUrls) {
  EXPECT_EQ(id_of("https://www.douyu.com/9999"), "9999");
  EXPECT_EQ(id_of("http://douyu.com/9999"), "9999");
  EXPECT_EQ(id_of("douyu.com/9999?dyshid=0-abc&dyshci=181"), "9999");
  EXPECT_EQ(id_of("https://m.douyu.com/9999"), "9999");
  EXPECT_EQ(id_of("HTTPS://WWW.DOUYU.COM/288016/"), "288016");
  EXPECT_EQ(id_of("www.douyu.com/9999#chat"), "9999");
  EXPECT_EQ(id_of("https://www.douyu.com/0099"), "99");
}

TEST(RoomIdTest, RidQueryParameterWins) {
  EXPECT_EQ(id_of("www.douyu.com/topic/xyz?rid=9999"), "9999");
  EXPECT_EQ(id_of("https://www.douyu.com/topic/s10?foo=1&rid=288016&bar=2"), "288016");
  EXPECT_EQ(id_of("https://www.douyu.com/1234?rid=5678"), "5678");
  // "xrid" is another parameter.
  EXPECT_EQ(id_of("douyu.com/42?xrid=7"), "42");
  EXPECT_NE(error_of("www.douyu.com/topic/xyz?rid=abc").find("rid \"abc\" is not a number"),
            std::string::npos);
  EXPECT_NE(error_of("www.douyu.com/topic/xyz?rid=").find("is not a number"), std::string::npos);
}

// A vanity name cannot become an id without Douyu's web page: the message says where the number is.
TEST(RoomIdTest, VanityNamesSayToUseTheNumber) {
  for (const char* text : {"xiaozhi", "https://www.douyu.com/xiaozhi", "douyu.com/xiaozhi?x=1",
                           "www.douyu.com/topic/xyz", "-5", "9999a"}) {
    const std::string error = error_of(text);
    EXPECT_NE(error.find("use the numeric room id"), std::string::npos) << text << ": " << error;
    EXPECT_NE(error.find("rid"), std::string::npos) << error;
    EXPECT_NE(error.find("\"room_id\""), std::string::npos) << error;
    EXPECT_NE(error.find(text), std::string::npos) << error;
  }
}

TEST(RoomIdTest, OtherRefusals) {
  EXPECT_EQ(error_of(""), "empty room id");
  EXPECT_NE(error_of("https://www.huya.com/9999").find("neither a number nor a douyu.com"),
            std::string::npos);
  EXPECT_NE(error_of("notdouyu.com/9999").find("neither"), std::string::npos);
  EXPECT_NE(error_of("douyu.com.evil.example/9999").find("neither"), std::string::npos);
  EXPECT_NE(error_of("https://www.douyu.com/").find("names no room"), std::string::npos);
  EXPECT_NE(error_of("https://www.douyu.com/99999999999999999999").find("longer than"),
            std::string::npos);
  EXPECT_FALSE(parse_room_id("nope", nullptr).has_value());
}

}  // namespace
}  // namespace asyncore::douyu

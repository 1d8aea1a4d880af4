#include "douyu/json.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/douyu/json_validator.h"
#include "tests/douyu/test_util.h"

namespace asyncore::douyu {
namespace {

using testing::JsonValidator;

void expect_valid(const std::string& json) {
  JsonValidator v(json);
  EXPECT_TRUE(v.validate()) << v.error() << " in " << json;
}

TEST(JsonTest, MessageIsOneObjectOfStringsInWireOrderWithDuplicates) {
  const Message m("type@=chatmsg/rid@=1/txt@=你好 😀/rid@=2/");
  EXPECT_EQ(to_json(m), R"({"type":"chatmsg","rid":"1","txt":"你好 😀","rid":"2"})");
  expect_valid(to_json(m));
  EXPECT_EQ(to_json(Message("")), "{}");
}

TEST(JsonTest, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(json_quote("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(json_quote("\n\r\t\b\f"), R"("\n\r\t\b\f")");
  EXPECT_EQ(json_quote(std::string("\0\x01\x1f\x7f", 4)), "\"\\u0000\\u0001\\u001f\x7f\"");
  EXPECT_EQ(json_quote("/"), "\"/\"");
}

TEST(JsonTest, InvalidUtf8BecomesReplacementCharacters) {
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(json_quote("\xff"), "\"" + fffd + "\"");
  EXPECT_EQ(json_quote("a\xC3"), "\"a" + fffd + "\"");           // truncated 2-byte
  EXPECT_EQ(json_quote("\xE4\xBD"), "\"" + fffd + "\"");         // truncated 3-byte: one U+FFFD
  EXPECT_EQ(json_quote("\xC0\xAF"), "\"" + fffd + fffd + "\"");  // overlong
  EXPECT_EQ(json_quote("\xED\xA0\x80"), "\"" + fffd + fffd + fffd + "\"");             // surrogate
  EXPECT_EQ(json_quote("\xF4\x90\x80\x80"), "\"" + fffd + fffd + fffd + fffd + "\"");  // > U+10FFFF
  EXPECT_EQ(json_quote("\xF0\x9F\x98"), "\"" + fffd + "\"");
  EXPECT_EQ(json_quote("ok\xE4\xBD\xA0"), "\"ok你\"");
}

TEST(JsonTest, RandomBytesAlwaysGiveValidJsonAndValidUtf8RoundTrips) {
  testing::Rng rng(5);
  for (int round = 0; round < 5000; ++round) {
    std::string s;
    const size_t n = rng.below(24);
    for (size_t i = 0; i < n; ++i) s.push_back(static_cast<char>(rng.below(256)));
    const std::string q = json_quote(s);
    JsonValidator v(q);
    ASSERT_TRUE(v.validate()) << v.error();
  }
  for (const std::string s : {"plain", "你好😀", "\"\\\n\x01", "\xe2\x80\xa8"}) {
    EXPECT_EQ(JsonValidator::string_literal(json_quote(s)), s);
  }
}

TEST(JsonTest, FlatObjectDecodesBackToTheFields) {
  const Message m("type@=x/k\"@=v\\\n/@=bare/");
  const auto back = JsonValidator::flat_object(to_json(m));
  ASSERT_TRUE(back.has_value());
  ASSERT_EQ(back->size(), 3u);
  EXPECT_EQ((*back)[1].first, "k\"");
  EXPECT_EQ((*back)[1].second, "v\\\n");
}

TEST(JsonTest, TreesBecomeArraysAndObjects) {
  const SttValue v(SttValue::Map{{"a", SttValue::List{"1", SttValue::Map{{"b", "\"x\""}}}}});
  EXPECT_EQ(to_json(v), R"({"a":["1",{"b":"\"x\""}]})");
  expect_valid(to_json(v));
}

}  // namespace
}  // namespace asyncore::douyu

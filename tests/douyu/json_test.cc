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

TEST(JsonTest, MessageIsOneObjectOfStringsInWireOrder) {
  const Message m("type@=chatmsg/rid@=9999/txt@=你好 😀/");
  EXPECT_EQ(to_json(m), R"({"type":"chatmsg","rid":"9999","txt":"你好 😀"})");
  expect_valid(to_json(m));
  EXPECT_EQ(to_json(Message("")), "{}");
}

// JSON readers disagree on repeated names (jq and Python keep the last); Message::get, type(),
// the typed views and --types take the first. The JSON line carries each key once: the first.
TEST(JsonTest, RepeatedKeysAppearOnceWithTheirFirstValueAsMessageGet) {
  const Message m("type@=uenter/nn@=a/type@=chatmsg/txt@=spoof/rid@=1/rid@=2/nn@=b/");
  EXPECT_EQ(to_json(m), R"({"type":"uenter","nn":"a","txt":"spoof","rid":"1"})");
  EXPECT_EQ(m.type(), "uenter");
  const auto members = JsonValidator::flat_object(to_json(m));
  ASSERT_TRUE(members.has_value());
  for (const auto& [key, value] : *members) EXPECT_EQ(value, m.get(key)) << key;
  // A leading repeat, an empty key repeated, and more fields than the linear scan handles.
  EXPECT_EQ(to_json(Message("@=x/@=y/k@=1/")), R"({"":"x","k":"1"})");
  std::string many;
  for (int i = 0; i < 100; ++i)
    many += "k" + std::to_string(i % 40) + "@=" + std::to_string(i) + "/";
  const auto big = JsonValidator::flat_object(to_json(Message(many)));
  ASSERT_TRUE(big.has_value());
  ASSERT_EQ(big->size(), 40u);
  EXPECT_EQ((*big)[39], (std::pair<std::string, std::string>("k39", "39")));
}

// Two distinct ill-formed keys encode alike (U+FFFD): still one member.
TEST(JsonTest, KeysThatEncodeAlikeAppearOnce) {
  const Message m("\xff@=1/\xfe@=2/");
  const auto members = JsonValidator::flat_object(to_json(m));
  ASSERT_TRUE(members.has_value());
  ASSERT_EQ(members->size(), 1u);
  EXPECT_EQ((*members)[0].second, "1");
}

TEST(JsonTest, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(json_quote("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(json_quote("\n\r\t\b\f"), R"("\n\r\t\b\f")");
  EXPECT_EQ(json_quote(std::string("\0\x01\x1f\x7f", 4)), "\"\\u0000\\u0001\\u001f\\u007f\"");
  EXPECT_EQ(json_quote("/"), "\"/\"");
}

// What a terminal obeys never appears raw: ESC, BEL, DEL, C1 (U+009B is CSI), bidi overrides.
TEST(JsonTest, TerminalControlsAreEscapedAndDecodeBackUnchanged) {
  const std::string evil =
      "evil\x1b]0;pwned\x07\x1b[2J\x7f\xc2\x9b"
      "31m\xe2\x80\xae"
      "abc\xe2\x81\xa6";
  const std::string q = json_quote(evil);
  EXPECT_EQ(q, R"("evil\u001b]0;pwned\u0007\u001b[2J\u007f\u009b31m\u202eabc\u2066")");
  EXPECT_EQ(JsonValidator::string_literal(q), evil);
  // Neighbours of the escaped ranges stay as they are.
  EXPECT_EQ(json_quote("\xc2\xa0\xe2\x80\xa9\xe2\x80\xaf\xe2\x81\xaa"),
            "\"\xc2\xa0\xe2\x80\xa9\xe2\x80\xaf\xe2\x81\xaa\"");
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

#include "douyu/protocol/json.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "douyu/protocol/stt.h"
#include "douyu/simulator/synthetic.h"
#include "tests/douyu/json_reference.h"
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

// ---- the fast encoder against the byte-by-byte one it replaced (tests/douyu/json_reference.h)

// Pieces chosen to sit on every edge of the fast path: plain ASCII, what JSON escapes, what a
// terminal obeys (C0, DEL, C1, bidi) and their neighbours, well-formed 2/3/4-byte sequences,
// overlongs, surrogates, > U+10FFFF, lone continuation bytes and random bytes.
std::string random_piece(testing::Rng& rng) {
  static const std::vector<std::string> kPieces = {"a",
                                                   "Z",
                                                   "0",
                                                   " ",
                                                   "~",
                                                   "/",
                                                   "\"",
                                                   "\\",
                                                   "\n",
                                                   "\r",
                                                   "\t",
                                                   "\b",
                                                   "\f",
                                                   std::string(1, '\0'),
                                                   "\x01",
                                                   "\x1b",
                                                   "\x1f",
                                                   "\x7f",
                                                   "\xc2\x80",
                                                   "\xc2\x9b",
                                                   "\xc2\x9f",
                                                   "\xc2\xa0",
                                                   "\xc3\xa9",
                                                   "\xdf\xbf",
                                                   "\xe2\x80\xa9",
                                                   "\xe2\x80\xaa",
                                                   "\xe2\x80\xae",
                                                   "\xe2\x80\xaf",
                                                   "\xe2\x81\xa5",
                                                   "\xe2\x81\xa6",
                                                   "\xe2\x81\xa9",
                                                   "\xe2\x81\xaa",
                                                   "\xe2\x80\xa8",
                                                   "\xe4\xbd\xa0",
                                                   "\xe5\xa5\xbd",
                                                   "\xef\xbf\xbd",
                                                   "\xe0\xa0\x80",
                                                   "\xe0\x80\x80",
                                                   "\xed\x9f\xbf",
                                                   "\xed\xa0\x80",
                                                   "\xf0\x9f\x98\x80",
                                                   "\xf0\x90\x80\x80",
                                                   "\xf0\x8f\xbf\xbf",
                                                   "\xf4\x8f\xbf\xbf",
                                                   "\xf4\x90\x80\x80",
                                                   "\xf5",
                                                   "\xff",
                                                   "\xc0\xaf",
                                                   "\xc1\xbf",
                                                   "\x80",
                                                   "\xbf",
                                                   "\xc3",
                                                   "\xe4\xbd",
                                                   "\xe4",
                                                   "\xf0\x9f\x98",
                                                   "\xf0\x9f",
                                                   "\xe2\x80",
                                                   "\xe2",
                                                   "\xc2"};
  switch (rng.below(4)) {
    case 0:
      return std::string(1, static_cast<char>(rng.below(256)));
    case 1:
      return std::string(rng.below(40), static_cast<char>('a' + rng.below(26)));  // clean run
    default:
      return kPieces[rng.below(kPieces.size())];
  }
}

std::string random_text(testing::Rng& rng, size_t max_pieces) {
  std::string s;
  const size_t pieces = rng.below(max_pieces + 1);
  for (size_t i = 0; i < pieces; ++i) s += random_piece(rng);
  return s;
}

std::string reference_quote(std::string_view s) {
  std::string out;
  reference::json_append_string(out, s);
  return out;
}

std::string reference_json(const Message& m) {
  std::string out;
  reference::json_append_message(out, m);
  return out;
}

TEST(JsonFastPathTest, StringsAreByteIdenticalToTheReference) {
  testing::Rng rng(13);
  for (int round = 0; round < 200000; ++round) {
    const std::string s = random_text(rng, 12);
    ASSERT_EQ(json_quote(s), reference_quote(s)) << testing::to_hex(s);
    // Every suffix and prefix of a few: sequences truncated at the end, blocks at every offset.
    if (round % 64 == 0) {
      for (size_t k = 0; k <= s.size(); ++k) {
        ASSERT_EQ(json_quote(s.substr(k)), reference_quote(s.substr(k))) << testing::to_hex(s);
        ASSERT_EQ(json_quote(s.substr(0, k)), reference_quote(s.substr(0, k)))
            << testing::to_hex(s);
      }
    }
  }
}

TEST(JsonFastPathTest, UniformRandomBytesAreByteIdenticalToTheReference) {
  testing::Rng rng(1313);
  for (int round = 0; round < 100000; ++round) {
    std::string s(rng.below(70), '\0');
    // Mostly high bytes, or mostly ASCII with some of everything.
    const bool high = rng.below(2) == 0;
    for (char& c : s) {
      c = static_cast<char>(high                ? 0x80 + rng.below(128)
                            : rng.below(8) == 0 ? rng.below(256)
                                                : 0x20 + rng.below(95));
    }
    ASSERT_EQ(json_quote(s), reference_quote(s)) << testing::to_hex(s);
  }
}

// Appending keeps what `out` held; text that grows 6x (all controls) or 3x (all ill-formed)
// outgrows the first estimate many times over.
TEST(JsonFastPathTest, AppendsAfterExistingTextAndGrowsForEscapes) {
  for (const size_t n : {1, 15, 16, 17, 255, 256, 10000}) {
    for (const char c : {'\x01', '\xff', '"', 'x'}) {
      const std::string s(n, c);
      std::string out = "prefix:";
      json_append_string(out, s);
      ASSERT_EQ(out, "prefix:" + reference_quote(s)) << n << " " << int(c);
    }
  }
  std::string out = "[";
  json_append_message(out, Message("type@=a/b@=\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01/"));
  EXPECT_EQ(out,
            "[" + reference_json(Message("type@=a/b@=\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01/")));
}

TEST(JsonFastPathTest, SyntheticRoomMessagesAreByteIdenticalToTheReference) {
  for (uint64_t seed : {1, 2, 3}) {
    SyntheticRoom room(seed);
    std::string out;
    for (int i = 0; i < 20000; ++i) {
      const Message m(room.next_body());
      const size_t before = out.size();
      json_append_message(out, m);  // appended after the previous ones, as the CLI does
      ASSERT_EQ(std::string_view(out).substr(before), reference_json(m)) << m.encode();
      if (out.size() > (1u << 16)) out.clear();
    }
  }
}

// Random fields (repeats, empty and ill-formed keys that encode alike, up to 100 fields: both
// the filter and the hash set) give the reference's members, byte for byte.
TEST(JsonFastPathTest, RandomMessagesAreByteIdenticalToTheReference) {
  testing::Rng rng(77);
  const std::vector<std::string> keys = {"type", "rid",  "uid",  "nn",           "txt",
                                         "",     "\xff", "\xfe", "\xef\xbf\xbd", "k\"",
                                         "r\\d", "\x1b", "pdg",  "pdk"};
  for (int round = 0; round < 20000; ++round) {
    std::string body;
    const size_t fields = rng.below(4) == 0 ? rng.below(101) : rng.below(25);
    for (size_t f = 0; f < fields; ++f) {
      const std::string key =
          rng.below(3) == 0 ? random_text(rng, 3) : keys[rng.below(keys.size())];
      body += stt_escape(key) + "@=" + stt_escape(random_text(rng, 6)) + "/";
    }
    const Message m(body);
    ASSERT_EQ(to_json(m), reference_json(m)) << testing::to_hex(body);
  }
}

// Names that share the filter's bit (same length, first, middle and last byte) are still told
// apart, and a repeat among them is still dropped.
TEST(JsonFastPathTest, NamesSharingAFilterBitAreComparedInFull) {
  std::string body;
  for (char c = 'a'; c <= 'z'; ++c) body += std::string("x") + c + "mmy@=" + c + "/";
  body += "xbmmy@=again/xzmmy@=again/";
  const Message m(body);
  EXPECT_EQ(to_json(m), reference_json(m));
  const auto members = JsonValidator::flat_object(to_json(m));
  ASSERT_TRUE(members.has_value());
  ASSERT_EQ(members->size(), 26u);
  EXPECT_EQ((*members)[1], (std::pair<std::string, std::string>("xbmmy", "b")));
}

}  // namespace
}  // namespace asyncore::douyu

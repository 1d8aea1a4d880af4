#include "douyu/protocol/stt_value.h"

#include <gtest/gtest.h>

#include <string>

#include "douyu/protocol/message.h"
#include "douyu/protocol/stt.h"
#include "tests/douyu/test_util.h"

namespace asyncore::douyu {
namespace {

using Map = SttValue::Map;
using List = SttValue::List;

TEST(SttValueTest, NobleNumInfoVectorDecodesToAListOfOneMap) {
  const Message m("type@=noble_num_info/sum@=1/list@=lev@AA=7@ASnum@AA=1@AS@S/");
  EXPECT_EQ(m.get_or("list"), "lev@A=7@Snum@A=1@S/");  // unescaped once
  const List list = m.get_list("list");
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].as_string(), "lev@=7/num@=1/");  // unescaped again
  EXPECT_EQ(stt_decode_map(list[0].as_string()), (Map{{"lev", "7"}, {"num", "1"}}));
  EXPECT_EQ(m.get_value("list"), SttValue(List{Map{{"lev", "7"}, {"num", "1"}}}));
}

TEST(SttValueTest, FrankVectorDecodesEscapedSlashesAndAtsAtDepthTwo) {
  const Message m(
      "type@=frank/list@=uid@AA=101@ASnn@AA=a@AASb@ASic@AA=avatar@AASdefault@AAS03@AS@Suid@AA=102@"
      "ASnn@AA=c@AAAd@ASic@AA=x@AS@S/");
  const auto entries = m.get_map_list("list");
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0], (Map{{"uid", "101"}, {"nn", "a/b"}, {"ic", "avatar/default/03"}}));
  EXPECT_EQ(entries[1], (Map{{"uid", "102"}, {"nn", "c@d"}, {"ic", "x"}}));
}

TEST(SttValueTest, EncodingNestsOneEscapePerLevel) {
  // {"a": {"b": {"c": "x/y@z"}}}: b is one level down (@A=), c two (@AA=).
  const SttValue v(Map{{"a", Map{{"b", Map{{"c", "x/y@z"}}}}}});
  EXPECT_EQ(stt_encode(v), "a@=b@A=c@AA=x@AASy@AAAz@AS@S/");
  EXPECT_EQ(stt_decode_value(stt_encode(v)), v);
  // The frank vector, encoded from its tree, is the wire text.
  const SttValue frank(
      Map{{"type", "frank"},
          {"list", List{Map{{"uid", "101"}, {"nn", "a/b"}, {"ic", "avatar/default/03"}},
                        Map{{"uid", "102"}, {"nn", "c@d"}, {"ic", "x"}}}}});
  EXPECT_EQ(
      stt_encode(frank),
      "type@=frank/list@=uid@AA=101@ASnn@AA=a@AASb@ASic@AA=avatar@AASdefault@AAS03@AS@Suid@AA="
      "102@ASnn@AA=c@AAAd@ASic@AA=x@AS@S/");
  EXPECT_EQ(stt_encode(SttValue(List{"a", "", "b/c"})), "a//b@Sc/");
}

TEST(SttValueTest, GuessingKeepsPlainStringsAndHonoursDepthLimit) {
  EXPECT_EQ(stt_decode_value("plain"), SttValue("plain"));
  EXPECT_EQ(stt_decode_value(""), SttValue(""));
  EXPECT_EQ(stt_decode_value("a/b/"), SttValue(List{"a", "b"}));
  EXPECT_EQ(stt_decode_value("k@=v/", 0), SttValue("k@=v/"));
  EXPECT_EQ(stt_decode_value("k@=a@S/", 1),
            SttValue(Map{{"k", "a/"}}));  // depth 1: values stay text
}

TEST(SttValueTest, LookupHelpers) {
  const SttValue v(Map{{"a", "1"}, {"a", "2"}, {"m", Map{}}});
  EXPECT_EQ(v.get("a"), "1");
  EXPECT_EQ(v.get("m", "none"), "none");
  EXPECT_EQ(v.find("zz"), nullptr);
  EXPECT_EQ(SttValue("s").find("a"), nullptr);
  EXPECT_EQ(to_debug_string(SttValue(Map{{"k", List{"a"}}})), "{k: [\"a\"]}");
}

// ---- round-trip properties on random trees ----

class TreeGen {
 public:
  // `guessable`: no string ending with '/', no empty containers (the guess cannot tell those).
  TreeGen(uint64_t seed, bool guessable) : rng_(seed), guessable_(guessable) {}

  std::string text() {
    static const std::string kParts[] = {"@",   "/",    "@A", "@S", "@=", "=",         "A", "S",
                                         "uid", "你好", "😀",  "🔥",  "\n", "{\"j\":1}", " ", "x"};
    std::string s;
    const size_t n = rng_.below(6);
    for (size_t i = 0; i < n; ++i) s += kParts[rng_.below(std::size(kParts))];
    if (guessable_) {
      while (!s.empty() && s.back() == '/') s.pop_back();
    }
    return s;
  }

  SttValue value(int depth) {
    const uint64_t kind = depth <= 0 ? 0 : rng_.below(3);
    if (kind == 0) return SttValue(text());
    const size_t n = (guessable_ ? 1 : 0) + rng_.below(4);
    if (kind == 1) {
      List l;
      for (size_t i = 0; i < n; ++i) l.push_back(value(depth - 1));
      return SttValue(std::move(l));
    }
    Map m;
    for (size_t i = 0; i < n; ++i) m.emplace_back(text(), value(depth - 1));
    return SttValue(std::move(m));
  }

 private:
  testing::Rng rng_;
  bool guessable_;
};

// Decodes `text` following the shape of `like` (the field knows its type).
SttValue decode_like(const SttValue& like, std::string_view text) {
  if (like.is_string()) return SttValue(text);
  if (like.is_list()) {
    List items = stt_decode_list(text);
    List out;
    if (items.size() != like.as_list().size()) return SttValue(std::move(items));
    for (size_t i = 0; i < items.size(); ++i) {
      out.push_back(decode_like(like.as_list()[i], items[i].as_string()));
    }
    return SttValue(std::move(out));
  }
  Map fields = stt_decode_map(text);
  Map out;
  if (fields.size() != like.as_map().size()) return SttValue(std::move(fields));
  for (size_t i = 0; i < fields.size(); ++i) {
    out.emplace_back(fields[i].first,
                     decode_like(like.as_map()[i].second, fields[i].second.as_string()));
  }
  return SttValue(std::move(out));
}

TEST(SttRoundTripTest, RandomTreesDecodeByShapeToThemselves) {
  TreeGen gen(42, /*guessable=*/false);
  for (int round = 0; round < 3000; ++round) {
    const SttValue v = gen.value(5);
    const std::string text = stt_encode(v);
    ASSERT_EQ(decode_like(v, text), v) << to_debug_string(v) << "\n" << text;
  }
}

TEST(SttRoundTripTest, RandomGuessableTreesDecodeByGuessToThemselves) {
  TreeGen gen(43, /*guessable=*/true);
  for (int round = 0; round < 3000; ++round) {
    SttValue v = gen.value(5);
    if (v.is_string()) continue;
    const std::string text = stt_encode(v);
    ASSERT_EQ(stt_decode_value(text), v) << to_debug_string(v) << "\n" << text;
  }
}

TEST(SttRoundTripTest, RandomTopLevelMessagesDecodeToTheirFields) {
  TreeGen gen(44, false);
  testing::Rng rng(45);
  for (int round = 0; round < 2000; ++round) {
    Map fields;
    const size_t n = rng.below(8);
    for (size_t i = 0; i < n; ++i) {
      SttValue v = gen.value(3);
      fields.emplace_back(gen.text(), v.is_string() ? v : SttValue(stt_encode(v)));
    }
    const std::string body = stt_encode(SttValue(fields));
    const Message m(body);
    ASSERT_EQ(m.size(), fields.size()) << body;
    for (size_t i = 0; i < n; ++i) {
      EXPECT_EQ(m.key(i), fields[i].first);
      EXPECT_EQ(m.value(i), fields[i].second.as_string());
    }
    EXPECT_EQ(m.encode(), body);
  }
}

TEST(SttRoundTripTest, DeepNestingToTwentyLevels) {
  SttValue v("leaf/@");
  for (int i = 0; i < 20; ++i) v = SttValue(Map{{"k" + std::to_string(i), std::move(v)}});
  const std::string text = stt_encode(v);
  EXPECT_NE(text.find("@" + std::string(19, 'A') + "="), std::string::npos);
  EXPECT_EQ(decode_like(v, text), v);
}

}  // namespace
}  // namespace asyncore::douyu

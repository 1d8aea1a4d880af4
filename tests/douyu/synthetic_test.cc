#include "douyu/simulator/synthetic.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "douyu/protocol/frame_decoder.h"
#include "douyu/protocol/json.h"
#include "douyu/protocol/typed_messages.h"
#include "tests/douyu/json_validator.h"

namespace asyncore::douyu {
namespace {

TEST(SyntheticTest, SameSeedSameStream) {
  SyntheticRoom a(9), b(9), c(10);
  std::string sa, sb, sc;
  a.append_frames(sa, 200);
  b.append_frames(sb, 200);
  c.append_frames(sc, 200);
  EXPECT_EQ(sa, sb);
  EXPECT_NE(sa, sc);
}

TEST(SyntheticTest, StreamIsRealisticAndDecodesCleanly) {
  SyntheticRoom room(1, 288016);
  std::string stream;
  room.append_frames(stream, 5000);
  FrameDecoderOptions options;
  options.expected_type = kServerToClient;
  FrameDecoder d(options);
  std::map<std::string, int> types;
  int escaped_text = 0, cjk = 0, nested = 0;
  ASSERT_TRUE(d.feed(stream, [&](const FrameView& f) {
    const Message m(std::string(f.body));
    ++types[std::string(m.type())];
    EXPECT_EQ(m.encode(), f.body);  // canonical: re-encodes to the same bytes
    if (auto c = view_as<ChatMsg>(m)) {
      EXPECT_EQ(c->rid, "288016");
      EXPECT_FALSE(c->txt.empty());
      EXPECT_NE(c->ic.find('/'), std::string_view::npos);
      if (c->txt.find_first_of("@/") != std::string_view::npos) ++escaped_text;
      if (c->txt.find("\xe4") != std::string_view::npos ||
          c->txt.find("\xe5") != std::string_view::npos)
        ++cjk;
    }
    if (auto r = view_as<RankList>(m)) {
      const auto entries = r->entries();
      EXPECT_FALSE(entries.empty());
      EXPECT_FALSE(entries[0].empty());
      EXPECT_EQ(r->entry_count(), entries.size());
      ++nested;
    }
    testing::JsonValidator v(to_json(m));
    EXPECT_TRUE(v.validate()) << v.error();
  }));
  EXPECT_GT(types["chatmsg"], 2000);
  EXPECT_GT(types["uenter"], 500);
  EXPECT_GT(types["dgb"], 300);
  EXPECT_GT(types["spbc"], 10);
  EXPECT_GT(nested, 20);
  EXPECT_GT(escaped_text, 50);
  EXPECT_GT(cjk, 1000);
  EXPECT_GE(types.size(), 20u);  // every modelled type plus unknown ones
}

TEST(SyntheticTest, GiftCombosRise) {
  SyntheticRoom room(2);
  int rising = 0;
  int64_t last_hits = 0, last_uid = 0;
  for (int i = 0; i < 200; ++i) {
    const Message m(room.dgb());
    const Gift g = Gift::from(m);
    const int64_t uid = m.get_int_or("uid", 0);
    if (uid == last_uid && g.hits == last_hits + 1) ++rising;
    last_hits = g.hits;
    last_uid = uid;
  }
  EXPECT_GT(rising, 50);
}

}  // namespace
}  // namespace asyncore::douyu

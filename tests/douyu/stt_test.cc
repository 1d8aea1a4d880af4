#include "douyu/protocol/stt.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tests/douyu/stt_reference.h"
#include "tests/douyu/test_util.h"

namespace asyncore::douyu {
namespace {

using testing::reference_scan_fields;

TEST(SttEscapeTest, EscapesAtThenSlash) {
  EXPECT_EQ(stt_escape("a@b/c"), "a@Ab@Sc");
  EXPECT_EQ(stt_escape("@S"), "@AS");  // '@' first: the S stays a letter
  EXPECT_EQ(stt_escape("/@"), "@S@A");
  EXPECT_EQ(stt_escape(""), "");
  EXPECT_EQ(stt_escape("纯文本😀"), "纯文本😀");
}

TEST(SttUnescapeTest, IsOnePassSoALiteralAtSStaysAtS) {
  // escape("@S") == "@AS"; a two-pass unescape (@A first) would wrongly give "/".
  EXPECT_EQ(stt_unescape("@AS"), "@S");
  EXPECT_EQ(stt_unescape("@AA"), "@A");
  EXPECT_EQ(stt_unescape("a@Ab@Sc"), "a@b/c");
  EXPECT_EQ(stt_unescape("@S@A"), "/@");
}

TEST(SttUnescapeTest, KeepsUnknownAndDanglingEscapesVerbatim) {
  EXPECT_EQ(stt_unescape("@"), "@");
  EXPECT_EQ(stt_unescape("a@"), "a@");
  EXPECT_EQ(stt_unescape("@B@=@@A"), "@B@=@@");
  EXPECT_EQ(stt_unescape("x@s"), "x@s");  // lower case is not an escape
}

TEST(SttUnescapeTest, InPlaceNeverGrowsAndMatchesCopy) {
  std::string s = "ab@Acd@Sef@A@S@Z@";
  const std::string expect = stt_unescape(s);
  const size_t n = stt_unescape_in_place(s.data(), s.size());
  EXPECT_EQ(s.substr(0, n), expect);
  EXPECT_EQ(expect, "ab@cd/ef@/@Z@");
}

TEST(SttEscapeTest, UnescapeOfEscapeIsIdentityOnRandomStrings) {
  testing::Rng rng(11);
  const std::string alphabet[] = {"@", "/", "A", "S", "@A", "@S", "=", "你", "😀", "\n", "x", "\0"};
  for (int round = 0; round < 5000; ++round) {
    std::string s;
    const size_t n = rng.below(20);
    for (size_t i = 0; i < n; ++i) s += alphabet[rng.below(std::size(alphabet))];
    const std::string e = stt_escape(s);
    EXPECT_EQ(e.find('/'), std::string::npos);
    EXPECT_EQ(e.find("@="), std::string::npos);
    ASSERT_EQ(stt_unescape(e), s) << s;
  }
}

struct Field {
  std::string key, value;
  bool has_sep;
  bool operator==(const Field&) const = default;
};

std::vector<Field> scan(std::string_view text, bool list = false) {
  std::vector<RawField> raw;
  if (list) {
    stt_scan_items(text, raw);
  } else {
    stt_scan_fields(text, raw);
  }
  std::vector<Field> out;
  for (const RawField& f : raw) {
    // The flags must be exact: escaped iff the raw text holds '@'.
    EXPECT_EQ(f.key_escaped(), f.raw_key(text).find('@') != std::string_view::npos) << text;
    EXPECT_EQ(f.value_escaped(), f.raw_value(text).find('@') != std::string_view::npos) << text;
    out.push_back(
        {std::string(f.raw_key(text)), std::string(f.raw_value(text)), f.has_separator()});
  }
  return out;
}

TEST(SttScanTest, SplitsFieldsInWireOrderKeepingDuplicates) {
  EXPECT_EQ(
      scan("type@=chatmsg/rid@=1/rid@=2/"),
      (std::vector<Field>{{"type", "chatmsg", true}, {"rid", "1", true}, {"rid", "2", true}}));
}

TEST(SttScanTest, OddInputYieldsWhatIsThere) {
  // bare item, empty value, empty key, empty items, missing final '/'
  EXPECT_EQ(scan("bare/a@=/@=v//b@=2"),
            (std::vector<Field>{
                {"", "bare", false}, {"a", "", true}, {"", "v", true}, {"b", "2", true}}));
  EXPECT_EQ(scan(""), std::vector<Field>{});
  EXPECT_EQ(scan("/"), std::vector<Field>{});
  EXPECT_EQ(scan("a@=b@=c/"), (std::vector<Field>{{"a", "b@=c", true}}));  // first "@=" splits
}

TEST(SttScanTest, MarksEscapedKeysAndValues) {
  EXPECT_EQ(scan("k@Ay@=v@Sw/@@=x/"),
            (std::vector<Field>{{"k@Ay", "v@Sw", true}, {"@", "x", true}}));
  EXPECT_EQ(scan("x@A/"), (std::vector<Field>{{"", "x@A", false}}));
}

TEST(SttScanTest, ValuesMayHoldJsonNewlinesAndEmoji) {
  EXPECT_EQ(
      scan("j@={\"a\":[1,2]}/n@=l1\nl2/e@=😀🔥/"),
      (std::vector<Field>{{"j", "{\"a\":[1,2]}", true}, {"n", "l1\nl2", true}, {"e", "😀🔥", true}}));
}

TEST(SttScanTest, ListItemsKeepEmptyItemsAndIgnoreSeparators) {
  EXPECT_EQ(scan("a//b@A=c/d", true),
            (std::vector<Field>{
                {"", "a", false}, {"", "", false}, {"", "b@A=c", false}, {"", "d", false}}));
  EXPECT_EQ(scan("/", true), (std::vector<Field>{{"", "", false}}));
  EXPECT_EQ(scan("", true), std::vector<Field>{});
}

TEST(SttScanTest, LongTextsCrossTheVectorBlocksCorrectly) {
  // Exercise the 16-byte SIMD blocks: separators at every alignment.
  for (size_t pad = 0; pad < 40; ++pad) {
    const std::string k(pad, 'k');
    const std::string text = k + "@=" + std::string(pad, 'v') + "@S/" + "z@=1/";
    const auto got = scan(text);
    ASSERT_EQ(got.size(), 2u) << pad;
    EXPECT_EQ(got[0], (Field{k, std::string(pad, 'v') + "@S", true}));
  }
}

TEST(SttWriterTest, WritesMapsListsAndIntegers) {
  SttWriter w;
  w.add("type", "loginreq").add("roomid", 9999).add("gid", int64_t{-9999}).add("k/@", "v@/");
  EXPECT_EQ(w.str(), "type@=loginreq/roomid@=9999/gid@=-9999/k@S@A@=v@A@S/");
  SttWriter l;
  l.add_item("a").add_item("").add_item("b/c");
  EXPECT_EQ(l.str(), "a//b@Sc/");
}

TEST(SttLooksLikeMapTest, GuessesFromSeparator) {
  EXPECT_TRUE(stt_looks_like_map("a@=1/"));
  EXPECT_FALSE(stt_looks_like_map("a@A=1@S/"));
  EXPECT_FALSE(stt_looks_like_map("a/b/"));
}

// Random texts for the scanners, the same on every run (xorshift64 from `seed`): up to 299 bytes,
// each drawn from the alphabet given.
class RandomText {
 public:
  explicit RandomText(uint64_t seed) : seed_(seed) {}
  std::string operator()(std::string_view alphabet) {
    std::string text(next() % 300, 'x');
    for (char& c : text) c = alphabet[next() % alphabet.size()];
    return text;
  }

 private:
  uint64_t next() {
    seed_ ^= seed_ << 13;
    seed_ ^= seed_ >> 7;
    seed_ ^= seed_ << 17;
    return seed_;
  }
  uint64_t seed_;
};

// The scanned field `got` is `want`: the same offsets, sizes and flags (the first that differs is
// named).
::testing::AssertionResult same_field(const RawField& got, const RawField& want) {
  const std::pair<const char*, std::pair<uint32_t, uint32_t>> members[] = {
      {"key_begin", {got.key_begin, want.key_begin}},
      {"key_size", {got.key_size, want.key_size}},
      {"value_begin", {got.value_begin, want.value_begin}},
      {"value_size", {got.value_size, want.value_size}},
      {"flags", {got.flags, want.flags}}};
  for (const auto& [name, values] : members) {
    if (values.first != values.second) {
      return ::testing::AssertionFailure()
             << name << " is " << values.first << ", expected " << values.second;
    }
  }
  return ::testing::AssertionSuccess();
}

TEST(SttScanFields, MatchesTheByteByByteRulesOnRandomText) {
  RandomText random_text(0x9e3779b97f4a7c15ULL);
  // Few letters, so that "@=", "@@=", "/@", runs of '@' and items across 64-byte blocks are common.
  constexpr std::string_view kAlphabets[] = {"a@=/", "ab@=/AS", "abcdefgh@/=", "aaaaaaaaaaaaaa@=/"};
  std::vector<RawField> got;
  for (int round = 0; round < 20000; ++round) {
    const std::string text = random_text(kAlphabets[round % 4]);
    got.clear();
    stt_scan_fields(text, got);
    const std::vector<RawField> want = reference_scan_fields(text);
    ASSERT_EQ(got.size(), want.size()) << text;
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_TRUE(same_field(got[i], want[i])) << text << " field " << i;
    }
  }
}

// The in-place forms against the vector scanner on the same random texts: stt_scan_fields into a
// RawFieldBuffer gives the same fields; stt_decode_fields_in_place gives each key and value
// unescaped (stt_unescape of the scanned raw one), no escape flags, in a buffer that starts empty
// and grows one field at a time (capacity 1).
TEST(SttScanFields, InPlaceFormsMatchTheScannerOnRandomText) {
  RandomText random_text(0x2545f4914f6cdd1dULL);
  constexpr std::string_view kAlphabets[] = {"a@=/", "ab@=/AS", "abcdefgh@/=AS", "aaaaaaaa@A/S"};
  std::vector<RawField> want;
  RawFieldBuffer scanned;
  RawFieldBuffer decoded;
  for (int round = 0; round < 20000; ++round) {
    const std::string text = random_text(kAlphabets[round % 4]);
    want.clear();
    stt_scan_fields(text, want);
    scanned.clear();
    stt_scan_fields(text, scanned);
    ASSERT_EQ(scanned.size(), want.size()) << text;
    decoded = RawFieldBuffer();
    decoded.reserve(round % 2);  // none, or room for one: grown field by field
    std::string in_place = text;
    stt_decode_fields_in_place(in_place.data(), in_place.size(), decoded);
    ASSERT_EQ(decoded.size(), want.size()) << text;
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_TRUE(same_field(scanned.data()[i], want[i])) << text << " field " << i;
      const RawField& d = decoded.data()[i];
      ASSERT_EQ(d.raw_key(in_place), stt_unescape(want[i].raw_key(text))) << text << " field " << i;
      ASSERT_EQ(d.raw_value(in_place), stt_unescape(want[i].raw_value(text)))
          << text << " field " << i;
      ASSERT_EQ(d.flags, want[i].flags & RawField::kHasSeparator) << text << " field " << i;
    }
  }
}

// Appending: fields go after what `out` already holds (the vector is grown by the scanner).
TEST(SttScanFields, AppendsToWhatIsThere) {
  std::vector<RawField> out;
  stt_scan_fields("a@=1/", out);
  stt_scan_fields("b@=2/c@=3/", out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[2].key_begin, 5u);
}

}  // namespace
}  // namespace asyncore::douyu

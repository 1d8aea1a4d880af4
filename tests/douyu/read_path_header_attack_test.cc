// Black-box attack on the read path's decoding, written from the public headers only (stt.h,
// pod_buffer.h, message.h, frame_batch.h, frame_decoder.h, typed_messages.h, typed_fields.h,
// json.h) and PROTOCOL.md §2. Each test pins one promise a header makes, against a model written
// from the header's words (or against a second public entry point the header says is equivalent),
// over hostile texts: escapes, "@=", '/' and '@' at the scanner's 16- and 64-byte block edges,
// runs of escapes, NUL and high bytes, frames cut in arbitrary pieces. Randomized tests use fixed
// seeds and print the failing input, escaped.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "douyu/protocol/frame_batch.h"
#include "douyu/protocol/frame_decoder.h"
#include "douyu/protocol/json.h"
#include "douyu/protocol/message.h"
#include "douyu/protocol/packet.h"
#include "douyu/protocol/stt.h"
#include "douyu/protocol/stt_value.h"
#include "douyu/protocol/typed_fields.h"
#include "douyu/protocol/typed_messages.h"
#include "tests/douyu/json_validator.h"
#include "tests/douyu/stt_reference.h"
#include "tests/douyu/test_util.h"

namespace asyncore::douyu {
namespace {

using testing::JsonValidator;
using testing::reference_scan_fields;
using testing::reference_unescape;
using testing::Rng;
using Fields = std::vector<std::pair<std::string, std::string>>;
using namespace std::string_literals;

// ---- printing ----

// C-style escaped text for failure messages ("a@=\x00\xff/"), cut in the middle when long.
std::string esc(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  auto put = [&](unsigned char c) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  };
  if (s.size() <= 600) {
    for (unsigned char c : s) put(c);
  } else {
    for (unsigned char c : s.substr(0, 300)) put(c);
    out += "\"...(" + std::to_string(s.size()) + " bytes)...\"";
    for (unsigned char c : s.substr(s.size() - 300)) put(c);
  }
  return out + "\"";
}

// ---- models written from the headers ----

// The decoded fields of a text: the reference scan, each key and value unescaped once.
Fields model_fields(std::string_view t) {
  Fields out;
  for (const RawField& f : reference_scan_fields(t)) {
    out.emplace_back(reference_unescape(t.substr(f.key_begin, f.key_size)),
                     reference_unescape(t.substr(f.value_begin, f.value_size)));
  }
  return out;
}

Fields fields_of(const Message& m) {
  Fields out;
  for (const auto [k, v] : m.fields()) out.emplace_back(std::string(k), std::string(v));
  return out;
}

// message.h get_int: the whole value parsed as a decimal integer (std::from_chars).
std::optional<int64_t> model_int(std::string_view v) {
  int64_t x = 0;
  const char* end = v.data() + v.size();
  const auto r = std::from_chars(v.data(), end, x);
  if (v.empty() || r.ec != std::errc() || r.ptr != end) return std::nullopt;
  return x;
}

// ---- text generators ----

// Bytes the scanner cares about, and some it must not care about.
constexpr char kSttAlphabet[] = {'@', '@', '@', '/',  '/',    '=',    '=',    'A',
                                 'S', 'a', 'k', '\0', '\x80', '\xff', '\xe4', '\n'};

std::string random_stt(Rng& rng, size_t len) {
  std::string s(len, 'a');
  for (char& c : s) c = kSttAlphabet[rng.below(sizeof(kSttAlphabet))];
  return s;
}

// Only the bytes that matter to STT: every escape, separator and lone '@' at every offset.
std::string random_dense(Rng& rng, size_t len) {
  std::string s(len, 'a');
  for (char& c : s) c = "@@@AS/=a"[rng.below(8)];
  return s;
}

std::string random_bytes(Rng& rng, size_t len) {
  std::string s(len, 'a');
  for (char& c : s) {
    const uint64_t r = rng.below(4);
    c = r == 0 ? "@/=AS"[rng.below(5)] : static_cast<char>(rng.below(256));
  }
  return s;
}

// Pieces of STT; glued at random they make texts dense in tokens at any alignment.
const std::vector<std::string>& stt_tokens() {
  static const std::vector<std::string> kTokens = {
      "@=", "@A",  "@S",  "@",    "/",   "@@S", "@@A", "@@=", "@A@S", "=",   "A",    "S",
      "a",  "key", "k@=", "v/",   "@A=", "@AA", "@AS", "//",  "@=@=", "\0"s, "\xff", "\xe4\xbd\xa0",
      "@/", "/@",  "@@",  "type", "@=/", "@S@", "@A@", "xyz"};
  return kTokens;
}

std::string random_tokens(Rng& rng, size_t min_len) {
  std::string s;
  const auto& tokens = stt_tokens();
  while (s.size() < min_len) s += tokens[rng.below(tokens.size())];
  return s;
}

// The offsets where a 16- or 64-byte block scanner changes blocks, and their neighbours.
const std::vector<size_t>& edge_offsets() {
  static const std::vector<size_t> kOffsets = {
      0,  1,  14, 15,  16,  17,  30,  31,  32,  33,  47,  48,  62,  63,  64,  65,  66, 79,
      80, 95, 96, 111, 112, 126, 127, 128, 129, 130, 191, 192, 193, 254, 255, 256, 257};
  return kOffsets;
}

// Texts with one token placed exactly at a block edge, in fillers of several kinds, also with
// the token ending at the very last byte.
std::vector<std::string> edge_texts() {
  const std::vector<std::string> tokens = {"@=",  "@A",   "@S",   "@", "/",  "@@S",  "@@A",
                                           "@@=", "@A@S", "@S@A", "=", "@/", "@\0"s, "@\xff"};
  const std::vector<std::string> fillers = {"a", "k@=v/", "@A", "@S", "ab/", "x@=", "@"};
  std::vector<std::string> out;
  for (size_t off : edge_offsets()) {
    for (const std::string& tok : tokens) {
      for (const std::string& fill : fillers) {
        for (size_t extra : {size_t{0}, size_t{1}, size_t{2}, size_t{17}, size_t{70}}) {
          std::string s;
          while (s.size() < off + tok.size() + extra) s += fill;
          s.resize(off + tok.size() + extra);
          s.replace(off, tok.size(), tok);
          out.push_back(s);
        }
      }
    }
  }
  return out;
}

// Every kind of text the brief names, deterministic.
std::vector<std::string> attack_corpus() {
  std::vector<std::string> out = edge_texts();
  for (size_t n = 0; n <= 300; n += (n < 140 ? 1 : 7)) {
    out.push_back(std::string(n, '@'));
    out.push_back(std::string(n, '/'));
    std::string escapes;  // "@A@S@A@S..." as a value, at every length and alignment
    for (size_t i = 0; i < n; ++i) escapes += i % 2 == 0 ? "@A" : "@S";
    out.push_back("k@=" + escapes + "/");
    out.push_back(escapes + "@=" + escapes);
    out.push_back(std::string(n % 67, 'a') + "@=" + escapes + "@");
    out.push_back(std::string(n, 'a') + "@");
    out.push_back(std::string(n, 'a') + "@A");
    out.push_back(std::string(n, 'a') + "@=");
    std::string at_pairs;  // "@@S@@A...": a '@' that escapes nothing before a real escape
    for (size_t i = 0; i < n / 3; ++i) at_pairs += i % 2 == 0 ? "@@S" : "@@A";
    out.push_back("v@=" + at_pairs + "/" + at_pairs);
    std::string bare;  // bare items with escapes and empty items
    for (size_t i = 0; i < n / 4; ++i) bare += i % 3 == 0 ? "@A/" : i % 3 == 1 ? "/" : "b@S/";
    out.push_back(bare);
    std::string highs;
    for (size_t i = 0; i < n; ++i)
      highs += static_cast<char>(i % 3 == 0 ? 0 : 0x80 + (i * 37) % 128);
    out.push_back("k@=" + highs + "/" + highs + "@=" + highs);
  }
  Rng rng(0x5eed1);
  for (int i = 0; i < 3000; ++i) out.push_back(random_stt(rng, rng.below(300)));
  for (int i = 0; i < 4000; ++i) out.push_back(random_dense(rng, rng.below(400)));
  for (int i = 0; i < 2000; ++i) out.push_back(random_tokens(rng, rng.below(300)));
  for (int i = 0; i < 300; ++i) out.push_back(random_tokens(rng, 500 + rng.below(2000)));
  return out;
}

// ---- stt.h ----

TEST(ReadPathHeaderAttack, UnescapeIsOneLeftToRightPass) {
  for (const std::string& t : attack_corpus()) {
    const std::string want = reference_unescape(t);
    ASSERT_EQ(stt_unescape(t), want) << "text " << esc(t);
    std::string in_place = t;
    const size_t n = stt_unescape_in_place(in_place.data(), in_place.size());
    ASSERT_EQ(in_place.substr(0, n), want) << "in place, text " << esc(t);
    std::string appended = "prefix";
    stt_append_unescaped(appended, t);
    ASSERT_EQ(appended, "prefix" + want) << "text " << esc(t);
    ASSERT_EQ(stt_unescape(stt_escape(t)), t) << "round trip of " << esc(t);
  }
}

TEST(ReadPathHeaderAttack, ScanFieldsMatchesTheHeadersRules) {
  for (const std::string& t : attack_corpus()) {
    const std::vector<RawField> want = reference_scan_fields(t);
    std::vector<RawField> got{RawField{7, 7, 7, 7, 7}};  // APPENDS: what was there stays
    stt_scan_fields(t, got);
    ASSERT_EQ(got.size(), want.size() + 1) << "text " << esc(t);
    ASSERT_EQ(got[0].key_begin, 7u);
    for (size_t i = 0; i < want.size(); ++i) {
      const RawField& f = got[i + 1];
      const RawField& w = want[i];
      ASSERT_EQ(f.raw_key(t), t.substr(w.key_begin, w.key_size))
          << "field " << i << " of " << esc(t);
      ASSERT_EQ(f.raw_value(t), t.substr(w.value_begin, w.value_size))
          << "field " << i << " of " << esc(t);
      ASSERT_EQ(f.flags, w.flags) << "field " << i << " of " << esc(t);
      if (w.key_size > 0) {
        ASSERT_EQ(f.key_begin, w.key_begin) << "field " << i << " of " << esc(t);
      }
      if (w.value_size > 0) {
        ASSERT_EQ(f.value_begin, w.value_begin) << "field " << i << " of " << esc(t);
      }
    }
    // The RawFieldBuffer overload is "the same scan".
    RawFieldBuffer buf;
    buf.append(&got[0], 1);
    stt_scan_fields(t, buf);
    ASSERT_EQ(buf.size(), got.size()) << "text " << esc(t);
    for (size_t i = 0; i < got.size(); ++i) {
      const RawField& a = got[i];
      const RawField& b = buf.data()[i];
      ASSERT_TRUE(a.key_begin == b.key_begin && a.key_size == b.key_size &&
                  a.value_begin == b.value_begin && a.value_size == b.value_size &&
                  a.flags == b.flags)
          << "field " << i << " of " << esc(t);
    }
    ASSERT_EQ(stt_looks_like_map(t), t.find("@=") != std::string::npos) << "text " << esc(t);
  }
}

// The differential the brief names: decode in place == scan, then unescape each raw key and value,
// flags reduced to kHasSeparator. The text sits in a larger buffer at every alignment, with
// canaries on both sides; a second copy sits in an allocation of exactly its size (ASan: no read
// past the end, whatever the block size).
TEST(ReadPathHeaderAttack, DecodeInPlaceEqualsScanThenUnescape) {
  constexpr size_t kPad = 80;
  size_t align = 0;
  for (const std::string& t : attack_corpus()) {
    std::vector<RawField> scanned;
    stt_scan_fields(t, scanned);

    align = (align + 1) % 64;
    std::vector<char> big(kPad + align + t.size() + kPad);
    for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>("@/=A"[i % 4]);
    const std::vector<char> before = big;
    char* text = big.data() + kPad + align;
    std::memcpy(text, t.data(), t.size());

    RawFieldBuffer out;
    const RawField marker{1, 2, 3, 4, 5};
    out.append(&marker, 1);
    stt_decode_fields_in_place(text, t.size(), out);

    ASSERT_TRUE(std::equal(big.begin(), big.begin() + kPad + align, before.begin()))
        << "bytes before the text changed; text " << esc(t);
    ASSERT_TRUE(std::equal(big.begin() + kPad + align + t.size(), big.end(),
                           before.begin() + kPad + align + t.size()))
        << "bytes after the text changed; text " << esc(t);
    ASSERT_EQ(out.size(), scanned.size() + 1) << "text " << esc(t);
    ASSERT_EQ(out.data()[0].value_size, 4u);
    const std::string_view decoded(text, t.size());
    for (size_t i = 0; i < scanned.size(); ++i) {
      const RawField& s = scanned[i];
      const RawField& d = out.data()[i + 1];
      ASSERT_LE(size_t{d.key_begin} + d.key_size, t.size()) << "field " << i << " of " << esc(t);
      ASSERT_LE(size_t{d.value_begin} + d.value_size, t.size())
          << "field " << i << " of " << esc(t);
      ASSERT_EQ(d.raw_key(decoded), stt_unescape(s.raw_key(t)))
          << "field " << i << " of " << esc(t);
      ASSERT_EQ(d.raw_value(decoded), stt_unescape(s.raw_value(t)))
          << "field " << i << " of " << esc(t);
      ASSERT_EQ(d.flags, s.flags & RawField::kHasSeparator) << "field " << i << " of " << esc(t);
    }

    // Exactly sized heap copy: every entry point reads it without a byte past its end (ASan).
    std::unique_ptr<char[]> exact(new char[t.size() == 0 ? 1 : t.size()]);
    std::memcpy(exact.get(), t.data(), t.size());
    const std::string_view exact_view(exact.get(), t.size());
    std::vector<RawField> rescanned;
    stt_scan_fields(exact_view, rescanned);
    ASSERT_EQ(rescanned.size(), scanned.size()) << "text " << esc(t);
    RawFieldBuffer rescanned_buf;
    stt_scan_fields(exact_view, rescanned_buf);
    ASSERT_EQ(rescanned_buf.size(), scanned.size()) << "text " << esc(t);
    std::vector<RawField> items;
    stt_scan_items(exact_view, items);
    ASSERT_EQ(stt_unescape(exact_view), reference_unescape(t)) << "text " << esc(t);
    (void)stt_looks_like_map(exact_view);
    RawFieldBuffer out2;
    stt_decode_fields_in_place(exact.get(), t.size(), out2);
    ASSERT_EQ(out2.size(), scanned.size()) << "text " << esc(t);
    ASSERT_EQ(std::string_view(exact.get(), t.size()), decoded) << "text " << esc(t);
  }
}

// An empty text may be a default std::string_view (data() == nullptr): Message::get_or's
// fallback, RankList's list_text of a message without "list". Every entry point takes it.
TEST(ReadPathHeaderAttack, NullEmptyViewUnescape) {
  EXPECT_EQ(stt_unescape(std::string_view()), "");
  std::string out = "x";
  stt_append_unescaped(out, std::string_view());
  EXPECT_EQ(out, "x");
}
TEST(ReadPathHeaderAttack, NullEmptyViewEscape) { EXPECT_EQ(stt_escape(std::string_view()), ""); }
TEST(ReadPathHeaderAttack, NullEmptyViewScan) {
  std::vector<RawField> v;
  stt_scan_fields(std::string_view(), v);
  stt_scan_items(std::string_view(), v);
  RawFieldBuffer b;
  stt_scan_fields(std::string_view(), b);
  stt_decode_fields_in_place(nullptr, 0, b);
  EXPECT_TRUE(v.empty());
  EXPECT_TRUE(b.empty());
  EXPECT_FALSE(stt_looks_like_map(std::string_view()));
}
TEST(ReadPathHeaderAttack, NullEmptyViewMessage) {
  Message m;
  m.assign(std::string_view());
  EXPECT_TRUE(m.empty());
  m.assign(std::string_view(), std::span<const RawField>());
  EXPECT_TRUE(m.empty());
  EXPECT_FALSE(Message::peek_type(std::string_view()).has_value());
  m.borrow_decoded(nullptr, 0, {});
  EXPECT_EQ(m.type(), "");
  const Message copy(m);
  EXPECT_TRUE(copy.empty());
  EXPECT_EQ(to_json(m), "{}");
}
TEST(ReadPathHeaderAttack, NullEmptyViewNestedGetters) {
  const Message m{std::string("type@=frank/")};
  EXPECT_TRUE(m.get_map("absent").empty());
  EXPECT_TRUE(m.get_list("absent").empty());
  EXPECT_TRUE(m.get_map_list("absent").empty());
  EXPECT_TRUE(m.get_value("absent").is_string());
}
TEST(ReadPathHeaderAttack, NullEmptyViewRankList) {
  const Message m{std::string("type@=frank/")};
  const auto r = view_as<RankList>(m);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->entry_count(), 0u);
  EXPECT_TRUE(r->entries().empty());
}
TEST(ReadPathHeaderAttack, NullEmptyViewJson) {
  EXPECT_EQ(json_quote(std::string_view()), "\"\"");
  EXPECT_EQ(to_json(stt_decode_value(std::string_view())), "\"\"");
}

// The same differential for dense texts at each of 64 alignments of the text's start.
TEST(ReadPathHeaderAttack, DecodeInPlaceAtEveryAlignment) {
  Rng rng(0xa119);
  std::vector<std::string> texts;
  for (int i = 0; i < 150; ++i) texts.push_back(random_dense(rng, 1 + rng.below(300)));
  for (int i = 0; i < 50; ++i) texts.push_back(random_tokens(rng, 1 + rng.below(300)));
  std::vector<char> buffer(64 + 512 + 64);
  for (const std::string& t : texts) {
    std::vector<RawField> scanned;
    stt_scan_fields(t, scanned);
    Fields want;
    for (const RawField& f : scanned) {
      want.emplace_back(stt_unescape(f.raw_key(t)), stt_unescape(f.raw_value(t)));
    }
    for (size_t align = 0; align < 64; ++align) {
      std::fill(buffer.begin(), buffer.end(), '@');
      char* text = buffer.data() + 64 + align;
      std::memcpy(text, t.data(), t.size());
      RawFieldBuffer out;
      stt_decode_fields_in_place(text, t.size(), out);
      ASSERT_EQ(out.size(), want.size()) << "align " << align << " text " << esc(t);
      const std::string_view d(text, t.size());
      for (size_t i = 0; i < want.size(); ++i) {
        ASSERT_EQ(out.data()[i].raw_key(d), want[i].first)
            << "align " << align << " text " << esc(t);
        ASSERT_EQ(out.data()[i].raw_value(d), want[i].second)
            << "align " << align << " text " << esc(t);
      }
      ASSERT_TRUE(std::all_of(buffer.begin(), buffer.begin() + 64 + align,
                              [](char c) { return c == '@'; }));
      ASSERT_TRUE(std::all_of(buffer.begin() + 64 + align + t.size(), buffer.end(),
                              [](char c) { return c == '@'; }))
          << "a byte after the text changed; align " << align << " text " << esc(t);
    }
  }
}

// stt.h: list items; empty items kept; a final item without '/' kept if not empty.
TEST(ReadPathHeaderAttack, ScanItemsKeepsEmptyItems) {
  for (const std::string& t : attack_corpus()) {
    std::vector<std::string_view> want;
    size_t begin = 0;
    while (begin < t.size()) {
      size_t end = t.find('/', begin);
      if (end == std::string::npos) {
        want.push_back(std::string_view(t).substr(begin));
        break;
      }
      want.push_back(std::string_view(t).substr(begin, end - begin));
      begin = end + 1;
    }
    std::vector<RawField> got;
    stt_scan_items(t, got);
    ASSERT_EQ(got.size(), want.size()) << "text " << esc(t);
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_EQ(got[i].key_size, 0u) << "item " << i << " of " << esc(t);
      ASSERT_EQ(got[i].raw_value(t), want[i]) << "item " << i << " of " << esc(t);
      ASSERT_EQ(got[i].value_escaped(), want[i].find('@') != std::string_view::npos)
          << "item " << i << " of " << esc(t);
    }
  }
}

// ---- message.h ----

void expect_message_matches(const Message& m, std::string_view body) {
  const Fields want = model_fields(body);
  ASSERT_EQ(fields_of(m), want) << "body " << esc(body);
  ASSERT_EQ(m.size(), want.size());
  ASSERT_EQ(m.empty(), want.empty());
  // type(): the value of the first "type" field.
  std::string_view type;
  for (const auto& [k, v] : want) {
    if (k == "type") {
      type = v;
      break;
    }
  }
  ASSERT_EQ(m.type(), type) << "body " << esc(body);
  // text_size(): at least the keys and values plus the "@=" and '/' BETWEEN them: "@=" in each
  // field that has one (a bare item has none), a '/' between two fields (the last field's final
  // '/' may be missing: "k@=v" is 4 bytes).
  const std::vector<RawField> raw = reference_scan_fields(body);
  size_t need = want.empty() ? 0 : want.size() - 1;
  for (size_t i = 0; i < want.size(); ++i) {
    need += want[i].first.size() + want[i].second.size() +
            ((raw[i].flags & RawField::kHasSeparator) ? 2 : 0);
  }
  ASSERT_GE(m.text_size(), need) << "body " << esc(body);
}

TEST(ReadPathHeaderAttack, MessageAgreesWithTheScannerOnEveryText) {
  for (const std::string& t : attack_corpus()) {
    const Message m{std::string(t)};
    expect_message_matches(m, t);
    if (::testing::Test::HasFatalFailure()) return;
    // get / get_all / get_int on every key present (first occurrence, wire order).
    const Fields want = model_fields(t);
    for (const auto& [k, v] : want) {
      const auto first =
          std::find_if(want.begin(), want.end(), [&](const auto& f) { return f.first == k; });
      ASSERT_EQ(m.get(k), std::optional<std::string_view>(first->second)) << "body " << esc(t);
      ASSERT_EQ(m.get_int(k), model_int(first->second)) << "key " << esc(k) << " body " << esc(t);
      std::vector<std::string_view> all;
      for (const auto& f : want) {
        if (f.first == k) all.push_back(f.second);
      }
      ASSERT_EQ(m.get_all(k), all) << "body " << esc(t);
    }
    // assign() into a used Message; assign(body, scanned fields); borrow_decoded().
    Message reused{std::string("type@=old/a@=b/")};
    reused.assign(t);
    expect_message_matches(reused, t);
    std::vector<RawField> scanned;
    stt_scan_fields(t, scanned);
    Message pre;
    pre.assign(t, scanned);
    expect_message_matches(pre, t);
    std::string decoded = t;
    RawFieldBuffer dfields;
    stt_decode_fields_in_place(decoded.data(), decoded.size(), dfields);
    Message bd;
    bd.borrow_decoded(decoded.data(), decoded.size(),
                      std::span<const RawField>(dfields.data(), dfields.size()));
    expect_message_matches(bd, t);
    Message from_decoded;
    from_decoded.assign(decoded, std::span<const RawField>(dfields.data(), dfields.size()));
    expect_message_matches(from_decoded, t);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

// peek_type agrees with type() whenever it answers; and answers for a body that starts with a
// "type@=" field ended by '/' whose value holds no '@'.
TEST(ReadPathHeaderAttack, PeekTypeAgreesWithType) {
  std::vector<std::string> bodies = attack_corpus();
  Rng rng(0x9ee4);
  const std::vector<std::string> heads = {"type@=",
                                          "type@=chatmsg/",
                                          "type@=@A/",
                                          "type@=a@=b/",
                                          "type@=/",
                                          "type@=a",
                                          "type@",
                                          "typ",
                                          "/type@=x/",
                                          "type@=x@",
                                          "type@=\xff\x00/"s,
                                          "type@=mrkl/type@=b/",
                                          "@Atype@=x/",
                                          "type@=x/y"};
  for (const std::string& h : heads) bodies.push_back(h);
  for (int i = 0; i < 4000; ++i) {
    bodies.push_back("type@=" + random_stt(rng, rng.below(80)));
    bodies.push_back(heads[rng.below(heads.size())] + random_tokens(rng, rng.below(150)));
    std::string plain(rng.below(70), 'a');
    for (char& c : plain) c = "abcdefgh_xyz0\xff\x80\0"[rng.below(16)];
    bodies.push_back("type@=" + plain + "/" + random_stt(rng, rng.below(100)));
  }
  for (const std::string& b : bodies) {
    const Message m{std::string(b)};
    const auto peeked = Message::peek_type(b);
    if (peeked) {
      ASSERT_EQ(*peeked, m.type()) << "body " << esc(b);
    }
    if (b.rfind("type@=", 0) == 0) {
      const size_t slash = b.find('/', 6);
      if (slash != std::string::npos && b.substr(6, slash - 6).find('@') == std::string::npos) {
        ASSERT_TRUE(peeked.has_value()) << "body " << esc(b);
      }
    }
  }
}

// Copies own their storage (of an owning or a borrowing Message); moves keep what the source had,
// also when the body is short enough to live inside the std::string (SSO); moved-from Messages can
// be destroyed and reassigned.
TEST(ReadPathHeaderAttack, CopiesOwnAndMovesAreSafeForEveryBodySize) {
  Rng rng(0xc0b1);
  std::vector<std::string> bodies = {"",         "a",    "@A", "k@=v/",      "t@=@S/",
                                     "type@=x/", "a/b/", "@=", "k@=@A@S@A/x"};
  for (int i = 0; i < 300; ++i) bodies.push_back(random_tokens(rng, rng.below(40)));
  for (int i = 0; i < 30; ++i) bodies.push_back(random_tokens(rng, 100 + rng.below(400)));
  for (const std::string& b : bodies) {
    const Fields want = model_fields(b);
    auto source = std::make_unique<Message>(std::string(b));
    Message copy(*source);
    Message moved(std::move(*source));
    ASSERT_EQ(fields_of(moved), want) << "moved, body " << esc(b);
    // The moved-from source is reassigned (its old storage reused) and then destroyed.
    *source = Message(std::string("zzzzzzz@=yyyyyyyy/") + std::string(b.size() % 9, 'q'));
    ASSERT_EQ(fields_of(moved), want) << "moved, after the source was reassigned; body " << esc(b);
    source->assign("www@=wwwwww/");
    source.reset();
    ASSERT_EQ(fields_of(moved), want) << "moved, after the source died; body " << esc(b);
    ASSERT_EQ(fields_of(copy), want) << "copy, body " << esc(b);
    ASSERT_EQ(moved.type(), copy.type());

    // Move-assignment over a Message with content; the moved-from one reassigned by copy.
    Message target{std::string("type@=old/rid@=1/rid@=2/")};
    target = std::move(moved);
    ASSERT_EQ(fields_of(target), want) << "move-assigned, body " << esc(b);
    moved = copy;
    ASSERT_EQ(fields_of(moved), want) << "reassigned moved-from, body " << esc(b);
    Message other{std::string("a@=b/")};
    other = std::move(moved);
    moved = Message(std::string(b));
    ASSERT_EQ(fields_of(moved), want) << "reassigned twice, body " << esc(b);
    // Self-assignment.
    Message& self = target;
    target = self;
    target = std::move(self);
    ASSERT_EQ(fields_of(target), want) << "self-assigned, body " << esc(b);
  }
  // A vector that reallocates moves every Message it holds.
  std::vector<Message> many;
  for (const std::string& b : bodies) many.emplace_back(std::string(b));
  for (size_t i = 0; i < bodies.size(); ++i) {
    ASSERT_EQ(fields_of(many[i]), model_fields(bodies[i])) << "body " << esc(bodies[i]);
  }
}

TEST(ReadPathHeaderAttack, CopyOfALentMessageOutlivesTheBatch) {
  Rng rng(0x1e27);
  std::vector<std::string> bodies;
  std::vector<Message> copies;
  std::vector<Message> copy_assigned(1, Message(std::string("x@=y/")));
  for (int round = 0; round < 40; ++round) {
    auto batch = std::make_unique<FrameBatch>();
    const size_t first = bodies.size();
    for (int i = 0; i < 20; ++i) {
      bodies.push_back(random_tokens(rng, rng.below(round % 2 == 0 ? 30 : 400)));
      if (rng.below(2) == 0) {
        batch->add(bodies.back());
      } else {
        batch->add_unscanned(bodies.back());
      }
    }
    batch->scan();
    Message m;
    for (size_t i = 0; i < batch->size(); ++i) {
      batch->lend(i, m);
      copies.push_back(m);
      Message assigned{std::string("old@=value that is long enough to be on the heap/")};
      assigned = m;
      copy_assigned.push_back(std::move(assigned));
    }
    // The batch's memory is overwritten and freed.
    batch->recycle(1u << 30);
    for (int i = 0; i < 20; ++i) batch->add(std::string(300, '/') + std::string(300, '@'));
    batch.reset();
    for (size_t i = first; i < bodies.size(); ++i) {
      ASSERT_EQ(fields_of(copies[i]), model_fields(bodies[i])) << "body " << esc(bodies[i]);
      ASSERT_EQ(fields_of(copy_assigned[i + 1]), model_fields(bodies[i]))
          << "body " << esc(bodies[i]);
    }
  }
}

TEST(ReadPathHeaderAttack, EncodeGivesTheWireBodyBackForWellFormedInput) {
  Rng rng(0xe4c0);
  for (int i = 0; i < 2000; ++i) {
    SttWriter w;
    const size_t n = rng.below(8);
    for (size_t f = 0; f < n; ++f) {
      std::string key = random_bytes(rng, 1 + rng.below(12));
      w.add(key, random_bytes(rng, rng.below(90)));
    }
    const std::string body = w.str();
    const Message m{std::string(body)};
    ASSERT_EQ(m.encode(), body) << "body " << esc(body);
  }
}

// ---- frame_batch.h, fed as DouyuClient feeds it ----

// A stream of frames read in pieces into FrameBatches (receive_space/received, split,
// add_received, take_tail), batches handed over, scanned, lent and recycled. Every body comes out
// once, in order, and lends a Message equal to Message(std::string(body)).
struct ReadPathHarness {
  std::vector<std::string> bodies;  // in stream order
  std::string stream;
  size_t delivered = 0;
  size_t keep_bytes = 256 * 1024;
  size_t max_memory = 0;
  size_t max_after_recycle = 0;
  std::vector<std::pair<size_t, Message>> kept_copies;  // (body index, copy)

  void add_body(std::string body) {
    append_frame(stream, body, kServerToClient);
    bodies.push_back(std::move(body));
  }

  void check_message(const Message& m, size_t index, const char* where) {
    ASSERT_LT(index, bodies.size()) << where;
    const Message want{std::string(bodies[index])};
    ASSERT_EQ(fields_of(m), fields_of(want))
        << where << ", body #" << index << " " << esc(bodies[index]);
    ASSERT_EQ(m.type(), want.type()) << where << ", body #" << index;
  }

  void drain(std::deque<FrameBatch>& queue, std::vector<FrameBatch>& pool, Rng& rng) {
    while (!queue.empty()) {
      FrameBatch b = std::move(queue.front());
      queue.pop_front();
      b.scan();
      ASSERT_TRUE(b.scanned());
      Message m;
      for (size_t i = 0; i < b.size(); ++i) {
        const size_t index = delivered++;
        ASSERT_LT(index, bodies.size()) << "more frames than sent";
        b.lend(i, m);
        check_message(m, index, "lent");
        if (rng.below(16) == 0) kept_copies.emplace_back(index, m);
        if (rng.below(4) == 0) {  // JSON and typed views of a lent Message: as of an owned one
          const Message owned{std::string(bodies[index])};
          ASSERT_EQ(to_json(m), to_json(owned)) << "body " << esc(bodies[index]);
          const TypedMessage a = view(m);
          const TypedMessage b2 = view(owned);
          ASSERT_EQ(a.index(), b2.index());
          if (!std::holds_alternative<GenericMessage>(a)) {
            ASSERT_TRUE(a == b2) << "body " << esc(bodies[index]);
          }
        }
      }
      max_memory = std::max(max_memory, b.memory_bytes());
      b.recycle(keep_bytes);
      ASSERT_TRUE(b.empty());
      ASSERT_LE(b.memory_bytes(), std::max(keep_bytes, sizeof(FrameBatch)))
          << "recycle(" << keep_bytes << ") kept more";
      max_after_recycle = std::max(max_after_recycle, b.memory_bytes());
      pool.push_back(std::move(b));
    }
  }

  // Reads the stream in pieces of piece(rng) bytes.
  template <class Piece>
  void run(Rng& rng, Piece piece) {
    FrameDecoder decoder(FrameDecoderOptions{kDefaultMaxLength, kServerToClient, true});
    std::deque<FrameBatch> queue;
    std::vector<FrameBatch> pool;
    FrameBatch batch;
    std::string tail;
    size_t split_count = 0;
    size_t pos = 0;
    while (pos < stream.size()) {
      const size_t n = std::min(std::max<size_t>(piece(rng), 1), stream.size() - pos);
      const size_t held = batch.body_bytes();
      if (rng.below(4) == 0) {
        batch.received(std::string_view(stream).substr(pos, n));  // a copy of a read elsewhere
      } else {
        char* p = batch.receive_space(n);
        ASSERT_GE(batch.receive_capacity(), held + n);
        std::memcpy(p, stream.data() + pos, n);
        batch.received(n);
      }
      pos += n;
      ASSERT_EQ(batch.body_bytes(), held + n);
      batch.reserve_frames(n / 64);
      batch.reserve_fields(held + n);
      const bool decode_now = rng.below(2) == 0;
      size_t consumed = 0;
      const bool ok = decoder.split(batch.received_bytes(), consumed, [&](const FrameView& f) {
        ASSERT_LT(split_count, bodies.size());
        ASSERT_EQ(f.body, bodies[split_count]) << "split frame #" << split_count;
        batch.add_received(f.body, decode_now);
        if (batch.scanned() && rng.below(8) == 0) {  // the loop side's look at a decoded body
          Message m;
          m.assign(batch.body(batch.size() - 1), batch.fields(batch.size() - 1));
          check_message(m, split_count, "assigned from the batch's decoded fields");
        }
        ++split_count;
      });
      ASSERT_TRUE(ok) << decoder.error_message();
      if (::testing::Test::HasFatalFailure()) return;
      if (!batch.empty()) {
        batch.take_tail(consumed, tail);
        ASSERT_EQ(batch.body_bytes(), consumed);
        queue.push_back(std::move(batch));
        if (pool.empty()) {
          batch = FrameBatch();
        } else {
          batch = std::move(pool.back());
          pool.pop_back();
        }
        ASSERT_TRUE(batch.empty());
        ASSERT_EQ(batch.body_bytes(), 0u);
        if (!tail.empty()) batch.received(tail);
      }
      if (rng.below(3) == 0 || queue.size() > 8) {
        drain(queue, pool, rng);
        if (::testing::Test::HasFatalFailure()) return;
      }
    }
    drain(queue, pool, rng);
    ASSERT_EQ(split_count, bodies.size());
    ASSERT_EQ(delivered, bodies.size());
    ASSERT_EQ(batch.body_bytes(), 0u) << "bytes left over after the last frame";
    for (const auto& [index, copy] : kept_copies) check_message(copy, index, "kept copy");
  }
};

std::string random_body(Rng& rng) {
  switch (rng.below(6)) {
    case 0:
      return "type@=chatmsg/rid@=9999/txt@=" + random_stt(rng, rng.below(100)) + "/";
    case 1:
      return random_tokens(rng, 1 + rng.below(200));
    case 2:
      return random_bytes(rng, 1 + rng.below(300));
    case 3:
      return random_stt(rng, 1 + rng.below(700));
    case 4:
      return "type@=mrkl/";
    default:
      return std::string(1 + rng.below(3), "a/@"[rng.below(3)]);
  }
}

TEST(ReadPathHeaderAttack, FrameBatchDeliversEveryFrameOnceInOrderWhateverThePieces) {
  struct Mode {
    const char* name;
    size_t max_piece;
  };
  for (const Mode mode : {Mode{"1 byte", 1}, Mode{"up to 13 bytes", 13}, Mode{"up to 300", 300},
                          Mode{"up to 64 KiB", 64 * 1024}}) {
    SCOPED_TRACE(mode.name);
    Rng rng(0xba7c + mode.max_piece);
    ReadPathHarness h;
    const int frames = mode.max_piece == 1 ? 300 : 3000;
    for (int i = 0; i < frames; ++i) h.add_body(random_body(rng));
    h.add_body("");  // length 9: an empty STT text
    h.add_body("last@=1/");
    const size_t max_piece = mode.max_piece;
    h.run(rng, [max_piece](Rng& r) { return 1 + r.below(max_piece); });
    if (HasFatalFailure()) return;
  }
}

// Header or body cut exactly at each byte of a frame, frames of very different sizes in turn
// (tiny, 64 KiB + 1, 1 MiB) through recycled batches, both sides decoding.
TEST(ReadPathHeaderAttack, FrameBatchCarriesLargeAndTinyFramesAcrossBatches) {
  Rng rng(0x1a46e);
  ReadPathHarness h;
  std::string huge;  // the largest legal body: 1 MiB frame, hostile "a/" fields and escapes
  const size_t kMaxBody = kDefaultMaxLength - 9;
  while (huge.size() < kMaxBody) huge += rng.below(3) == 0 ? "k@=@A@S@A/" : "a/";
  huge.resize(kMaxBody);
  huge.back() = '@';
  std::string big = "type@=big/v@=" + std::string(FrameBatch::kLargeBody, 'x') + "@S/";
  for (int i = 0; i < 6; ++i) {
    h.add_body("a");
    h.add_body(i % 2 == 0 ? huge : big);
    h.add_body("type@=mrkl/");
    for (int j = 0; j < 40; ++j) h.add_body(random_body(rng));
  }
  // Pieces: mostly 64 KiB reads, some cut a header (1..11 bytes), some a whole 1 MiB + more.
  h.run(rng, [](Rng& r) -> size_t {
    const uint64_t k = r.below(10);
    if (k == 0) return 1 + r.below(11);
    if (k == 1) return 2u << 20;
    return 64 * 1024 - r.below(100);
  });
  if (HasFatalFailure()) return;
  // Bounded frames: recycled batches do not grow without bound.
  EXPECT_LE(h.max_after_recycle, std::max(h.keep_bytes, sizeof(FrameBatch)));
}

// Bodies above kLargeBody (their fields reserved in one go) of hostile shapes, added decoded or
// not, several per batch, the batch recycled between rounds.
TEST(ReadPathHeaderAttack, FrameBatchLargeHostileBodies) {
  const size_t n = FrameBatch::kLargeBody + 3;
  std::vector<std::string> bodies = {std::string(n, '/'), std::string(n, '@'), std::string(n, 'a')};
  std::string s;
  while (s.size() < n) s += "a/";
  bodies.push_back(s.substr(0, n));
  s.clear();
  while (s.size() < n) s += "@A@S";
  bodies.push_back("k@=" + s + "@");
  s.clear();
  while (s.size() < n) s += "@=/";
  bodies.push_back(s);
  s.clear();
  while (s.size() < n) s += "@@S/@@A/@A@=@S/";
  bodies.push_back(s);
  FrameBatch batch;
  for (int round = 0; round < 4; ++round) {
    for (const std::string& b : bodies) {
      if (round % 2 == 0) {
        batch.add(b);
      } else {
        batch.add_unscanned(b);
      }
      batch.add("type@=mrkl/");
    }
    batch.scan();
    ASSERT_EQ(batch.size(), 2 * bodies.size());
    Message m;
    for (size_t i = 0; i < bodies.size(); ++i) {
      batch.lend(2 * i, m);
      ASSERT_EQ(fields_of(m), model_fields(bodies[i]))
          << "round " << round << " body " << esc(bodies[i]);
      batch.lend(2 * i + 1, m);
      ASSERT_EQ(m.type(), "mrkl");
    }
    batch.recycle(round < 2 ? size_t{1} << 30 : 4096);
  }
}

TEST(ReadPathHeaderAttack, FrameBatchSplitAtEveryByteOfAFrame) {
  const std::vector<std::string> bodies = {"type@=chatmsg/txt@=@A@S/", "k@=" + std::string(70, '@'),
                                           "@", "/", "x@=" + std::string(200, 'b') + "@A"};
  std::string one;
  for (const auto& b : bodies) append_frame(one, b, kServerToClient);
  for (size_t cut = 1; cut < one.size(); ++cut) {
    for (size_t cut2 = cut; cut2 < std::min(one.size(), cut + 40); cut2 += 13) {
      Rng rng(cut * 1000 + cut2);
      ReadPathHarness h;
      for (const auto& b : bodies) h.add_body(b);
      size_t call = 0;
      const size_t c1 = cut, c2 = cut2 - cut;
      h.run(rng, [&call, c1, c2](Rng&) -> size_t {
        const size_t k = call++;
        return k == 0 ? c1 : k == 1 ? std::max<size_t>(c2, 1) : 1u << 20;
      });
      if (HasFatalFailure()) {
        ADD_FAILURE() << "cuts at " << cut << " and " << cut2;
        return;
      }
    }
  }
}

TEST(ReadPathHeaderAttack, FrameBatchMemoryStaysBoundedAcrossRecycles) {
  // keep_bytes larger than any batch: nothing is ever given back, so only reuse bounds it.
  Rng rng(0x3e3);
  ReadPathHarness h;
  h.keep_bytes = size_t{1} << 40;
  constexpr size_t kMaxFrame = 4096;
  constexpr size_t kMaxRead = 16 * 1024;
  for (int i = 0; i < 6000; ++i) {
    std::string b = random_body(rng);
    if (rng.below(5) == 0) b = std::string(1 + rng.below(kMaxFrame - 20), "a//"[rng.below(3)]);
    b.resize(std::min(b.size(), kMaxFrame - 20));
    if (b.empty()) b = "a";
    h.add_body(std::move(b));
  }
  h.run(rng, [](Rng& r) { return 1 + r.below(kMaxRead); });
  if (HasFatalFailure()) return;
  // A batch holds at most a read plus a carried frame; its fields at most one per 2 bytes
  // (20 bytes each), doubled by growth: a generous bound, far below unbounded growth.
  const size_t bound = sizeof(FrameBatch) + 2 * (kMaxRead + kMaxFrame) * (1 + 20) + 64 * 1024;
  EXPECT_LE(h.max_memory, bound);
}

TEST(ReadPathHeaderAttack, ReserveMakesRoomForTheFramesAnnounced) {
  for (size_t frames : {size_t{1}, size_t{3}, size_t{10}, size_t{100}}) {
    FrameBatch b;
    b.add("type@=first/");
    b.reserve(frames * 100, frames);
    const size_t cap = b.receive_capacity();
    const size_t mem = b.memory_bytes();
    for (size_t i = 0; i < frames; ++i) b.add(std::string(99, 'v') + "/");  // 1 field per 100 B
    EXPECT_EQ(b.receive_capacity(), cap) << frames << " frames: the bodies' bytes reallocated";
    EXPECT_LE(b.memory_bytes(), mem + 64) << frames << " frames: more memory than reserved";
  }
  PodBuffer<char> p;
  p.reserve(10);
  EXPECT_EQ(p.capacity(), 10u);
  p.reserve(5);
  EXPECT_EQ(p.capacity(), 10u);
  p.append("0123456789", 10);
  p.reserve_more(1);
  EXPECT_GE(p.capacity(), 20u);
  PodBuffer<char> q(std::move(p));
  EXPECT_EQ(std::string_view(q.data(), q.size()), "0123456789");
  EXPECT_TRUE(p.empty());
  p = std::move(q);
  EXPECT_EQ(std::string_view(p.data(), p.size()), "0123456789");
}

TEST(ReadPathHeaderAttack, WholeFramesInTheFedSliceAreViewsIntoIt) {
  Rng rng(0x5c1);
  std::string stream;
  for (int i = 0; i < 50; ++i) append_frame(stream, random_body(rng), kServerToClient);
  FrameDecoder d;
  size_t count = 0;
  ASSERT_TRUE(d.feed(stream, [&](const FrameView& f) {
    EXPECT_TRUE(f.body.data() >= stream.data() &&
                f.body.data() + f.body.size() <= stream.data() + stream.size());
    ++count;
  }));
  EXPECT_EQ(count, 50u);
  EXPECT_EQ(d.buffered(), 0u);
  EXPECT_EQ(d.offset(), stream.size());
}

TEST(ReadPathHeaderAttack, ReceiveSpaceSizing) {
  FrameBatch b;
  b.receive_space(100);
  EXPECT_EQ(b.receive_capacity(), 100u) << "exactly n in an empty batch";
  b.received(100);
  b.receive_space(1);
  EXPECT_GE(b.receive_capacity(), 200u) << "at least twice what it holds";
  std::string tail;
  b.take_tail(40, tail);
  EXPECT_EQ(tail.size(), 60u);
  EXPECT_EQ(b.body_bytes(), 40u);
}

// frame_decoder.h: the verdict on a malformed header never depends on how the stream was split;
// the frames before the bad one are handed out; offset() == bytes fed - buffered() while ok();
// the error message names the bad frame's offset; after an error every feed returns false.
TEST(ReadPathHeaderAttack, FrameDecoderVerdictIndependentOfPieces) {
  struct Corruption {
    FrameError error;
    void (*apply)(std::string& frame);
  };
  const std::vector<Corruption> corruptions = {
      {FrameError::kLengthTooSmall,
       [](std::string& f) {
         f[0] = 8;
         f[1] = f[2] = f[3] = 0;
         f[4] = 8;
         f[5] = f[6] = f[7] = 0;
       }},
      {FrameError::kLengthTooSmall, [](std::string& f) { f[0] = f[1] = f[2] = f[3] = 0; }},
      {FrameError::kLengthTooLarge,
       [](std::string& f) {
         f[0] = 1;
         f[1] = 0;
         f[2] = 0x10;
         f[3] = 0;
       }},  // 1 MiB + 1
      {FrameError::kLengthTooLarge, [](std::string& f) { f[3] = '\xff'; }},
      {FrameError::kLengthMismatch, [](std::string& f) { f[4] = static_cast<char>(f[4] + 1); }},
      {FrameError::kLengthMismatch, [](std::string& f) { f[7] = 1; }},
      {FrameError::kUnexpectedType, [](std::string& f) { f[8] = static_cast<char>(0xb3); }},
      {FrameError::kUnexpectedType, [](std::string& f) { f[9] = 0; }},
      {FrameError::kNonZeroEncrypt, [](std::string& f) { f[10] = 1; }},
      {FrameError::kNonZeroReserved, [](std::string& f) { f[11] = '\x80'; }},
      {FrameError::kMissingNul, [](std::string& f) { f.back() = 'x'; }},
  };
  Rng rng(0xdec0);
  for (int round = 0; round < 400; ++round) {
    std::string stream;
    std::vector<std::string> bodies;
    const size_t good = rng.below(6);
    for (size_t i = 0; i < good; ++i) {
      bodies.push_back(random_body(rng));
      append_frame(stream, bodies.back(), rng.below(2) == 0 ? kClientToServer : kServerToClient);
    }
    const uint64_t bad_offset = stream.size();
    const Corruption& c = corruptions[round % corruptions.size()];
    std::string bad = encode_frame(random_body(rng), kServerToClient);
    c.apply(bad);
    stream += bad;
    stream += encode_frame("type@=after/", kServerToClient);  // never handed out

    // feed() in random pieces.
    FrameDecoder decoder;
    std::vector<std::string> got;
    size_t pos = 0;
    uint64_t fed = 0;
    bool ok = true;
    while (pos < stream.size()) {
      const size_t n =
          std::min<size_t>(1 + rng.below(round % 3 == 0 ? 3 : 40), stream.size() - pos);
      ok = decoder.feed(std::string_view(stream).substr(pos, n),
                        [&](const FrameView& f) { got.emplace_back(f.body); });
      pos += n;
      fed += n;
      if (!ok) break;
      ASSERT_EQ(decoder.offset(), fed - decoder.buffered());
      ASSERT_LE(decoder.buffer_capacity(), size_t{kDefaultMaxLength} + 4);
    }
    ASSERT_FALSE(ok) << "round " << round << ": corruption " << frame_error_name(c.error)
                     << " not detected";
    ASSERT_EQ(decoder.error(), c.error) << "round " << round << " " << decoder.error_message();
    ASSERT_NE(decoder.error_message().find("offset " + std::to_string(bad_offset)),
              std::string::npos)
        << decoder.error_message() << " (bad frame at " << bad_offset << ")";
    ASSERT_EQ(got, bodies) << "round " << round;
    ASSERT_FALSE(decoder.feed(encode_frame("a@=b/"), [&](const FrameView&) { FAIL(); }));

    // split() over the same stream, the caller carrying the unconsumed rest.
    FrameDecoder splitter;
    std::vector<std::string> got2;
    std::string held;
    pos = 0;
    ok = true;
    while (pos < stream.size() && ok) {
      const size_t n = std::min<size_t>(1 + rng.below(50), stream.size() - pos);
      held.append(stream, pos, n);
      pos += n;
      size_t consumed = 0;
      ok = splitter.split(held, consumed, [&](const FrameView& f) { got2.emplace_back(f.body); });
      held.erase(0, consumed);
    }
    ASSERT_FALSE(ok) << "split, round " << round;
    ASSERT_EQ(splitter.error(), c.error)
        << "split, round " << round << " " << splitter.error_message();
    ASSERT_EQ(got2, bodies) << "split, round " << round;
  }
}

// ---- typed views ----

template <class T>
void check_typed_view(const Message& m, std::string_view body) {
  const std::optional<T> v = view_as<T>(m);
  ASSERT_TRUE(v.has_value()) << "body " << esc(body);
  for (const auto& member : TypedFields<T>::kMembers) {
    if (member.text != nullptr) {
      ASSERT_EQ((*v).*member.text, m.get_or(member.key))
          << "member " << member.key << " body " << esc(body);
    } else {
      ASSERT_EQ((*v).*member.number, m.get_int_or(member.key, 0))
          << "member " << member.key << " body " << esc(body);
    }
  }
  const TypedMessage any = view(m);
  ASSERT_TRUE(std::holds_alternative<T>(any)) << "body " << esc(body);
  ASSERT_TRUE(std::get<T>(any) == *v) << "body " << esc(body);
}

template <class T>
void attack_typed_view(Rng& rng, std::string_view type) {
  std::vector<std::string> keys;
  for (const auto& member : TypedFields<T>::kMembers) {
    std::string k(member.key);
    keys.push_back(k);
    if (k.size() > 3) {  // same length, first, second and last byte: the KeyIndex hash's code
      std::string near = k;
      near[2] = near[2] == 'q' ? 'r' : 'q';
      keys.push_back(near);
    }
    keys.push_back(k + "x");
    keys.push_back(k.substr(0, k.size() - 1));
    keys.push_back(k + std::string(40, k.back()));
  }
  keys.push_back("type");
  keys.push_back("");
  const std::vector<std::string> values = {"0",
                                           "1",
                                           "-1",
                                           "42",
                                           "+5",
                                           " 5",
                                           "5 ",
                                           "",
                                           "-",
                                           "--1",
                                           "0x10",
                                           "007",
                                           "99999999999999999999",
                                           "-9223372036854775808",
                                           "9223372036854775807",
                                           "9223372036854775808",
                                           "123456789012345678",
                                           "-123456789012345678",
                                           "1234567890123456789",
                                           "@A",
                                           "a@Sb",
                                           "\xe4\xbd\xa0\xe5\xa5\xbd",
                                           "1\0"s};
  for (int i = 0; i < 300; ++i) {
    std::string body;
    if (rng.below(4) == 0) body += "rid@=first/";  // type not first
    body += "type@=" + std::string(type) + "/";
    if (rng.below(3) == 0) body += "type@=chatmsg/";  // a second type: the first wins
    const size_t n = rng.below(40);
    for (size_t f = 0; f < n; ++f) {
      const std::string& k = keys[rng.below(keys.size())];
      std::string v =
          rng.below(3) == 0 ? random_tokens(rng, rng.below(20)) : values[rng.below(values.size())];
      if (rng.below(5) == 0) {
        body += stt_escape(v) + "/";  // a bare item
      } else {
        body += stt_escape(k) + "@=" + stt_escape(v) + "/";
      }
    }
    const Message m{std::string(body)};
    check_typed_view<T>(m, body);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

TEST(ReadPathHeaderAttack, TypedViewsTakeTheFirstOccurrenceOfEveryKey) {
  Rng rng(0x7e9ed);
  attack_typed_view<ChatMsg>(rng, ChatMsg::kType);
  attack_typed_view<UserEnter>(rng, UserEnter::kType);
  attack_typed_view<Gift>(rng, Gift::kType);
  attack_typed_view<GiftBroadcast>(rng, GiftBroadcast::kType);
  attack_typed_view<RoomStatus>(rng, RoomStatus::kType);
  attack_typed_view<BuyDeserve>(rng, BuyDeserve::kType);
  attack_typed_view<SuperBarrage>(rng, SuperBarrage::kType);
  attack_typed_view<NobleOpen>(rng, NobleOpen::kType);
  attack_typed_view<NobleRenew>(rng, NobleRenew::kType);
  attack_typed_view<BadgeUp>(rng, BadgeUp::kType);
  attack_typed_view<LevelUp>(rng, LevelUp::kType);
  attack_typed_view<LoginResponse>(rng, LoginResponse::kType);
  attack_typed_view<ServerError>(rng, ServerError::kType);
  attack_typed_view<PingRequest>(rng, PingRequest::kType);
  for (const char* rank : {"noble_num_info", "frank", "fswrank", "ranklist"}) {
    attack_typed_view<RankList>(rng, rank);
    const Message m{std::string("type@=") + rank + "/list@=a@AA=1@AS@S/list@=b/sum@=3/sum@=4/"};
    const auto r = view_as<RankList>(m);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->type, rank);
    EXPECT_EQ(r->list_text, "a@A=1@S/");
    EXPECT_EQ(r->sum, 3);
  }
}

TEST(ReadPathHeaderAttack, TypedFieldIntIsGetIntsRule) {
  Rng rng(0x1b7);
  std::vector<std::string> values = {"",
                                     "-",
                                     "+",
                                     "0",
                                     "-0",
                                     "+1",
                                     "00",
                                     "-00000000000000000001",
                                     "9223372036854775807",
                                     "9223372036854775808",
                                     "-9223372036854775808",
                                     "-9223372036854775809",
                                     "999999999999999999",
                                     "-999999999999999999",
                                     "1000000000000000000",
                                     "18446744073709551616",
                                     "1e3",
                                     "1.0",
                                     std::string("1\0", 2),
                                     "\xef\xbc\x91"};
  for (int i = 0; i < 20000; ++i) {
    std::string v(rng.below(23), '0');
    for (char& c : v) c = "0123456789012345678901234567890123456789-+ a/"[rng.below(46)];
    values.push_back(v);
  }
  for (const std::string& v : values) {
    ASSERT_EQ(typed_field_int(v), model_int(v).value_or(0)) << "value " << esc(v);
    const Message m{"n@=" + stt_escape(v) + "/"};
    ASSERT_EQ(m.get_int_or("n", 0), typed_field_int(v)) << "value " << esc(v);
  }
}

TEST(ReadPathHeaderAttack, RankListEntryCountIsEntriesSize) {
  std::vector<std::string> lists = {"",
                                    "/",
                                    "//",
                                    "@",
                                    "@S",
                                    "@A",
                                    "a",
                                    "a/",
                                    "a@=b",
                                    "a@=b/",
                                    "@A=",
                                    "@A=/",
                                    "a@A=1@S/",
                                    "a@A=1@Sb@A=2@S/",
                                    "@S@S@S",
                                    "x@=1/@S/",
                                    "a@A=1@Sb/c@A=2/",
                                    "lev@A=7@Snum@A=1@S/"};
  Rng rng(0x4a4c);
  for (const std::string& t : attack_corpus()) {
    if (lists.size() > 3000) break;
    lists.push_back(t);
  }
  for (int i = 0; i < 3000; ++i) {
    std::string list;
    const size_t items = rng.below(8);
    for (size_t it = 0; it < items; ++it) {
      SttWriter entry;
      const size_t fields = rng.below(4);
      for (size_t f = 0; f < fields; ++f)
        entry.add(random_tokens(rng, rng.below(5)), random_tokens(rng, rng.below(8)));
      std::string item = rng.below(4) == 0 ? random_tokens(rng, rng.below(10)) : entry.str();
      list += stt_escape(item) + (rng.below(6) == 0 ? "" : "/");
    }
    lists.push_back(list);
  }
  for (const std::string& l : lists) {
    RankList r;
    r.list_text = l;
    ASSERT_EQ(r.entry_count(), r.entries().size()) << "list " << esc(l);
    const Message m{"type@=frank/list@=" + stt_escape(l) + "/"};
    const auto v = view_as<RankList>(m);
    ASSERT_TRUE(v.has_value());
    ASSERT_EQ(v->list_text, l);
    ASSERT_EQ(v->entry_count(), v->entries().size()) << "list " << esc(l);
  }
}

// ---- json.h ----

// json.h: no byte a terminal would obey is written raw (C0, DEL, C1, bidi overrides/isolates).
std::optional<size_t> raw_terminal_control(std::string_view j) {
  for (size_t i = 0; i < j.size(); ++i) {
    const auto c = static_cast<unsigned char>(j[i]);
    if (c < 0x20 || c == 0x7f) return i;
    if (c == 0xc2 && i + 1 < j.size()) {
      const auto d = static_cast<unsigned char>(j[i + 1]);
      if (d >= 0x80 && d <= 0x9f) return i;
    }
    if (c == 0xe2 && i + 2 < j.size()) {
      const auto d = static_cast<unsigned char>(j[i + 1]);
      const auto e = static_cast<unsigned char>(j[i + 2]);
      if ((d == 0x80 && e >= 0xaa && e <= 0xae) || (d == 0x81 && e >= 0xa6 && e <= 0xa9)) return i;
    }
  }
  return std::nullopt;
}

void expect_json_line(const Message& m, std::string_view body) {
  const std::string json = to_json(m);
  JsonValidator v{json};
  ASSERT_TRUE(v.validate()) << v.error() << " in " << esc(json) << " of body " << esc(body);
  ASSERT_TRUE(JsonValidator::valid_utf8(json)) << esc(json);
  ASSERT_EQ(json.find('\n'), std::string::npos) << "not one line: " << esc(json);
  ASSERT_EQ(json.find('\r'), std::string::npos) << "not one line: " << esc(json);
  ASSERT_EQ(raw_terminal_control(json), std::nullopt) << esc(json) << " of body " << esc(body);
  std::string appended = "{}";
  json_append_message(appended, m);
  ASSERT_EQ(appended, "{}" + json);
  // Each name once, with the first value of the keys that encode to it (json_quote's encoding).
  Fields want;
  for (const auto& [k, val] : fields_of(m)) {
    const auto name = JsonValidator::string_literal(json_quote(k));
    const auto value = JsonValidator::string_literal(json_quote(val));
    ASSERT_TRUE(name && value) << esc(json_quote(k)) << " " << esc(json_quote(val));
    if (std::none_of(want.begin(), want.end(), [&](const auto& w) { return w.first == *name; })) {
      want.emplace_back(*name, *value);
    }
  }
  const auto got = JsonValidator::flat_object(json);
  ASSERT_TRUE(got.has_value()) << esc(json);
  ASSERT_EQ(*got, want) << "json " << esc(json) << " of body " << esc(body);
}

std::string random_utf8(Rng& rng, size_t chars) {
  static const std::vector<std::string> kPieces = {"a",
                                                   "@",
                                                   "/",
                                                   "=",
                                                   "@A",
                                                   "@S",
                                                   "\"",
                                                   "\\",
                                                   "\n",
                                                   "\r",
                                                   "\t",
                                                   std::string(1, '\0'),
                                                   "\x1b",
                                                   "\x7f",
                                                   "\xc2\x85",
                                                   "\xc3\xa9",
                                                   "\xe4\xbd\xa0",
                                                   "\xe2\x80\xae",
                                                   "\xe2\x81\xa6",
                                                   "\xf0\x9f\x98\x80",
                                                   "\xef\xbf\xbd",
                                                   "\xed\x9f\xbf",
                                                   "\xee\x80\x80",
                                                   "\xf4\x8f\xbf\xbf"};
  std::string s;
  for (size_t i = 0; i < chars; ++i) s += kPieces[rng.below(kPieces.size())];
  return s;
}

TEST(ReadPathHeaderAttack, JsonOfAnyDecodedMessageIsOneValidLine) {
  Rng rng(0x750e);
  std::vector<std::string> bodies;
  for (const std::string& t : attack_corpus()) {
    if (bodies.size() > 4000) break;
    bodies.push_back(t);
  }
  for (int i = 0; i < 3000; ++i) bodies.push_back(random_bytes(rng, rng.below(400)));
  for (int i = 0; i < 1000; ++i) {
    std::string b;
    for (int j = 0; j < 12; ++j) {
      // Ill-formed UTF-8 pieces glued to structure: truncated, overlong, surrogates, > U+10FFFF.
      static const char* kBad[] = {
          "\xc0\xaf",     "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
          "\xf0\x9f\x98", "\xe4\xbd",     "\x80",         "\xff",
          "\xc2",         "\xf8\x88"};
      b += kBad[rng.below(10)];
      b += "@=/@A"[rng.below(5)];
    }
    bodies.push_back(b);
  }
  for (const std::string& b : bodies) {
    const Message m{std::string(b)};
    expect_json_line(m, b);
    if (HasFatalFailure()) return;
  }
  // Valid UTF-8 in: each key once, with its first value, exactly as decoded.
  for (int i = 0; i < 3000; ++i) {
    std::string body;
    const size_t n = rng.below(10);
    for (size_t f = 0; f < n; ++f) {
      const std::string k = rng.below(3) == 0 ? std::string("rid") : random_utf8(rng, rng.below(4));
      if (rng.below(6) == 0) {
        body += random_utf8(rng, rng.below(5)) + "/";
      } else {
        body += k + "@=" + random_utf8(rng, rng.below(12)) + "/";
      }
    }
    const Message m{std::string(body)};
    expect_json_line(m, body);
    if (HasFatalFailure()) return;
    for (const auto& [k, v] : fields_of(m)) {  // well-formed text comes back exactly
      ASSERT_EQ(JsonValidator::string_literal(json_quote(k)), k) << "body " << esc(body);
      ASSERT_EQ(JsonValidator::string_literal(json_quote(v)), v) << "body " << esc(body);
    }
  }
}

TEST(ReadPathHeaderAttack, JsonOfAnyGuessedTreeIsValid) {
  Rng rng(0x7ee);
  for (int i = 0; i < 3000; ++i) {
    const std::string t =
        i % 2 == 0 ? random_tokens(rng, rng.below(120)) : random_bytes(rng, rng.below(120));
    const SttValue v = stt_decode_value(t);
    const std::string json = to_json(v);
    JsonValidator val{json};
    ASSERT_TRUE(val.validate()) << val.error() << " in " << esc(json) << " of " << esc(t);
    ASSERT_EQ(json.find('\n'), std::string::npos) << esc(json);
  }
}

}  // namespace
}  // namespace asyncore::douyu

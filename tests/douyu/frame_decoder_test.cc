#include "douyu/protocol/frame_decoder.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "douyu/simulator/synthetic.h"
#include "tests/douyu/test_util.h"

namespace asyncore::douyu {
namespace {

using testing::from_hex;

struct Decoded {
  std::vector<Frame> frames;
  bool ok = true;
  FrameError error = FrameError::kNone;
  std::string message;
};

// Feeds `stream` in pieces cut at `cuts` (sorted offsets).
Decoded decode_in_pieces(const std::string& stream, const std::vector<size_t>& cuts,
                         FrameDecoderOptions options = {}) {
  FrameDecoder d(options);
  Decoded out;
  size_t prev = 0;
  for (size_t cut : cuts) {
    out.ok = d.feed(std::string_view(stream).substr(prev, cut - prev), out.frames) && out.ok;
    prev = cut;
  }
  out.ok = d.feed(std::string_view(stream).substr(prev), out.frames) && out.ok;
  out.error = d.error();
  out.message = d.error_message();
  return out;
}

std::string three_frames() {
  return Packet("type@=loginreq/roomid@=9999/").bytes() +
         Packet("type@=chatmsg/txt@=你好😀/", kServerToClient).bytes() + Packet("").bytes();
}

TEST(FrameDecoderTest, DecodesProtocolVectors) {
  FrameDecoder d;
  std::vector<Frame> frames;
  ASSERT_TRUE(
      d.feed(from_hex("25 00 00 00 25 00 00 00 b1 02 00 00 74 79 70 65 40 3d 6c 6f 67 69 6e "
                      "72 65 71 2f 72 6f 6f 6d 69 64 40 3d 39 39 39 39 2f 00"
                      "14 00 00 00 14 00 00 00 b1 02 00 00 74 79 70 65 40 3d 6d 72 6b 6c 2f 00"),
             frames));
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].body, "type@=loginreq/roomid@=9999/");
  EXPECT_EQ(frames[0].type, kClientToServer);
  EXPECT_EQ(frames[0].offset, 0u);
  EXPECT_EQ(frames[1].body, "type@=mrkl/");
  EXPECT_EQ(frames[1].offset, 0x25u + 4);
  EXPECT_EQ(d.offset(), 0x25u + 4 + 0x14 + 4);
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(FrameDecoderTest, WholeFramesInTheSliceAreViewsIntoItWithoutCopy) {
  const std::string stream = three_frames();
  FrameDecoder d;
  std::vector<const char*> bodies;
  ASSERT_TRUE(d.feed(stream, [&](const FrameView& f) { bodies.push_back(f.body.data()); }));
  ASSERT_EQ(bodies.size(), 3u);
  for (const char* b : bodies) {
    EXPECT_GE(b, stream.data());
    EXPECT_LT(b, stream.data() + stream.size());
  }
  EXPECT_EQ(bodies[0], stream.data() + kHeaderSize);
}

TEST(FrameDecoderTest, OneByteAtATimeYieldsTheSameFrames) {
  const std::string stream = three_frames();
  std::vector<size_t> cuts;
  for (size_t i = 1; i < stream.size(); ++i) cuts.push_back(i);
  const Decoded got = decode_in_pieces(stream, cuts);
  ASSERT_TRUE(got.ok) << got.message;
  ASSERT_EQ(got.frames.size(), 3u);
  EXPECT_EQ(got.frames[0].body, "type@=loginreq/roomid@=9999/");
  EXPECT_EQ(got.frames[1].body, "type@=chatmsg/txt@=你好😀/");
  EXPECT_EQ(got.frames[1].type, kServerToClient);
  EXPECT_EQ(got.frames[2].body, "");
}

TEST(FrameDecoderTest, SplitAtEveryByteIntoTwoOrThreePiecesYieldsTheSameFrames) {
  const std::string stream = three_frames();
  const Decoded whole = decode_in_pieces(stream, {});
  ASSERT_TRUE(whole.ok);
  for (size_t a = 0; a <= stream.size(); ++a) {
    for (size_t b = a; b <= stream.size(); b += 7) {
      const Decoded got = decode_in_pieces(stream, {a, b});
      ASSERT_TRUE(got.ok) << "cut at " << a << "," << b << ": " << got.message;
      ASSERT_EQ(got.frames.size(), whole.frames.size()) << a << "," << b;
      for (size_t i = 0; i < got.frames.size(); ++i) {
        EXPECT_EQ(got.frames[i].body, whole.frames[i].body);
        EXPECT_EQ(got.frames[i].offset, whole.frames[i].offset);
      }
    }
  }
}

// `count` frames of a synthetic room's traffic (SyntheticRoom(seed)).
std::string synthetic_stream(uint64_t seed, size_t count) {
  SyntheticRoom room(seed);
  std::string stream;
  room.append_frames(stream, count);
  return stream;
}

// Cuts into a stream of `size` bytes: the first below 300, each next 1 to `most_apart` bytes on.
std::vector<size_t> random_cuts(testing::Rng& rng, size_t size, uint64_t most_apart) {
  std::vector<size_t> cuts;
  for (size_t at = rng.below(300); at < size; at += 1 + rng.below(most_apart)) cuts.push_back(at);
  return cuts;
}

TEST(FrameDecoderTest, RealisticStreamInRandomChunksMatchesWholeDecode) {
  const std::string stream = synthetic_stream(7, 500);
  const Decoded whole = decode_in_pieces(stream, {});
  ASSERT_TRUE(whole.ok);
  ASSERT_EQ(whole.frames.size(), 500u);
  testing::Rng rng(3);
  const Decoded got = decode_in_pieces(stream, random_cuts(rng, stream.size(), 700));
  ASSERT_TRUE(got.ok) << got.message;
  ASSERT_EQ(got.frames.size(), 500u);
  for (size_t i = 0; i < 500; ++i) EXPECT_EQ(got.frames[i].body, whole.frames[i].body);
}

TEST(FrameDecoderTest, IncompleteFrameIsBufferedUntilTheRestArrives) {
  const std::string f = Packet("type@=mrkl/").bytes();
  FrameDecoder d;
  std::vector<Frame> frames;
  ASSERT_TRUE(d.feed(std::string_view(f).substr(0, 15), frames));
  EXPECT_TRUE(frames.empty());
  EXPECT_EQ(d.buffered(), 15u);
  EXPECT_EQ(d.offset(), 0u);
  ASSERT_TRUE(d.feed(std::string_view(f).substr(15), frames));
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(d.buffered(), 0u);
  EXPECT_EQ(d.offset(), f.size());
}

// ---- malformed frames: one distinct error each, with offset and values in the message ----

std::string header(uint32_t len1, uint32_t len2, uint16_t type, uint8_t enc, uint8_t res) {
  std::string h(12, '\0');
  for (int i = 0; i < 4; ++i) {
    h[i] = static_cast<char>((len1 >> (8 * i)) & 0xff);
    h[4 + i] = static_cast<char>((len2 >> (8 * i)) & 0xff);
  }
  h[8] = static_cast<char>(type & 0xff);
  h[9] = static_cast<char>(type >> 8);
  h[10] = static_cast<char>(enc);
  h[11] = static_cast<char>(res);
  return h;
}

struct BadCase {
  const char* name;
  std::string frame;
  FrameError error;
  const char* message;  // after "frame at offset N: "
};

std::vector<BadCase> bad_cases() {
  return {
      {"too_small", header(5, 5, 689, 0, 0) + "abcd\0", FrameError::kLengthTooSmall,
       "length 5 below minimum 9"},
      {"too_large", header(0x00100001, 0x00100001, 689, 0, 0), FrameError::kLengthTooLarge,
       "length 1048577 above maximum 1048576"},
      {"mismatch", header(20, 21, 689, 0, 0) + std::string("type@=mrkl/\0", 12),
       FrameError::kLengthMismatch, "length 20 differs from repeated length 21"},
      {"type", header(20, 20, 700, 0, 0) + std::string("type@=mrkl/\0", 12),
       FrameError::kUnexpectedType, "unexpected message type 700 (expected 689 or 690)"},
      {"encrypt", header(20, 20, 689, 1, 0) + std::string("type@=mrkl/\0", 12),
       FrameError::kNonZeroEncrypt, "encrypt byte 1 is not 0"},
      {"reserved", header(20, 20, 690, 0, 255) + std::string("type@=mrkl/\0", 12),
       FrameError::kNonZeroReserved, "reserved byte 255 is not 0"},
      {"nul", header(20, 20, 689, 0, 0) + "type@=mrkl/x", FrameError::kMissingNul,
       "body of 12 bytes does not end with NUL (last byte 0x78)"},
  };
}

TEST(FrameDecoderTest, EachMalformedFrameIsADistinctErrorNamingOffsetAndValues) {
  const std::string good = Packet("type@=mrkl/").bytes();  // 24 bytes first, so offset is 24
  for (const BadCase& c : bad_cases()) {
    FrameDecoder d;
    std::vector<Frame> frames;
    EXPECT_FALSE(d.feed(good + c.frame, frames)) << c.name;
    EXPECT_EQ(frames.size(), 1u) << c.name << ": frames before the bad one are handed out";
    EXPECT_EQ(d.error(), c.error) << c.name;
    EXPECT_EQ(d.error_message(), "frame at offset 24: " + std::string(c.message)) << c.name;
    EXPECT_FALSE(d.ok());
  }
}

TEST(FrameDecoderTest, MalformedFrameGivesTheSameErrorWhateverTheSplit) {
  for (const BadCase& c : bad_cases()) {
    const Decoded whole = decode_in_pieces(c.frame, {});
    ASSERT_FALSE(whole.ok) << c.name;
    for (size_t cut = 0; cut <= c.frame.size(); ++cut) {
      const Decoded got = decode_in_pieces(c.frame, {cut});
      EXPECT_FALSE(got.ok) << c.name << " cut " << cut;
      EXPECT_EQ(got.error, c.error) << c.name << " cut " << cut;
      EXPECT_EQ(got.message, whole.message) << c.name << " cut " << cut;
    }
  }
}

// split(), as DouyuClient uses it: the reader keeps the bytes (here a string it appends each read
// to), presents them all again after each read and drops what split() consumed.
Decoded split_in_pieces(const std::string& stream, const std::vector<size_t>& cuts,
                        size_t* most_kept = nullptr) {
  FrameDecoder d;
  Decoded out;
  std::string kept;
  size_t prev = 0;
  auto read = [&](std::string_view piece) {
    kept.append(piece);
    size_t consumed = 0;
    out.ok = d.split(kept, consumed, [&](const FrameView& v) {
      EXPECT_GE(v.body.data(), kept.data());  // a view into what was presented
      out.frames.push_back(Frame::from(v));
    }) && out.ok;
    kept.erase(0, consumed);
    if (most_kept) *most_kept = std::max(*most_kept, kept.size());
  };
  for (size_t cut : cuts) {
    read(std::string_view(stream).substr(prev, cut - prev));
    prev = cut;
  }
  read(std::string_view(stream).substr(prev));
  out.error = d.error();
  out.message = d.error_message();
  EXPECT_EQ(d.buffered(), 0u);  // split() never buffers
  return out;
}

TEST(FrameDecoderTest, SplitInPlaceGivesFeedsFramesWhateverTheReads) {
  const std::string stream = synthetic_stream(11, 500);
  const Decoded whole = decode_in_pieces(stream, {});
  ASSERT_TRUE(whole.ok);
  testing::Rng rng(5);
  for (int round = 0; round < 20; ++round) {
    const std::vector<size_t> cuts = random_cuts(rng, stream.size(), round < 10 ? 40 : 3000);
    size_t most_kept = 0;
    const Decoded got = split_in_pieces(stream, cuts, &most_kept);
    ASSERT_TRUE(got.ok) << got.message;
    ASSERT_EQ(got.frames.size(), whole.frames.size());
    for (size_t i = 0; i < got.frames.size(); ++i) {
      ASSERT_EQ(got.frames[i].body, whole.frames[i].body);
      ASSERT_EQ(got.frames[i].offset, whole.frames[i].offset);
    }
  }
}

// A malformed frame: split() reports the error feed() reports, from the bytes of the header
// present so far (a forged length before its body arrives), whatever the reads.
TEST(FrameDecoderTest, SplitInPlaceGivesFeedsErrorsWhateverTheReads) {
  const std::string good = Packet("type@=mrkl/").bytes();
  for (const BadCase& c : bad_cases()) {
    const std::string stream = good + c.frame;
    const Decoded whole = decode_in_pieces(stream, {});
    for (size_t cut = 0; cut <= stream.size(); ++cut) {
      const Decoded got = split_in_pieces(stream, {cut});
      EXPECT_FALSE(got.ok) << c.name << " cut " << cut;
      EXPECT_EQ(got.frames.size(), 1u) << c.name << " cut " << cut;
      EXPECT_EQ(got.message, whole.message) << c.name << " cut " << cut;
    }
    // The forged length is refused from its first four bytes: nothing kept waits for its body.
    if (c.error == FrameError::kLengthTooLarge) {
      const Decoded early = split_in_pieces(good + c.frame.substr(0, 4), {});
      EXPECT_EQ(early.error, FrameError::kLengthTooLarge);
    }
  }
}

TEST(FrameDecoderTest, ErrorStateIsStickyUntilReset) {
  FrameDecoder d;
  std::vector<Frame> frames;
  EXPECT_FALSE(d.feed(header(5, 5, 689, 0, 0), frames));
  EXPECT_FALSE(d.feed(Packet("type@=mrkl/").bytes(), frames));
  EXPECT_TRUE(frames.empty());
  EXPECT_EQ(d.error(), FrameError::kLengthTooSmall);
  d.reset();
  EXPECT_TRUE(d.ok());
  EXPECT_TRUE(d.feed(Packet("type@=mrkl/").bytes(), frames));
  EXPECT_EQ(frames.size(), 1u);
}

TEST(FrameDecoderTest, ForgedLengthIsRejectedFromItsFirstFourBytes) {
  FrameDecoder d;
  std::vector<Frame> frames;
  EXPECT_FALSE(d.feed(std::string("\xff\xff\xff\x7f", 4), frames));
  EXPECT_EQ(d.error(), FrameError::kLengthTooLarge);
  EXPECT_EQ(d.error_message(), "frame at offset 0: length 2147483647 above maximum 1048576");
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(FrameDecoderTest, ForgedLegalLengthCostsNoMemoryUntilItsBytesArrive) {
  FrameDecoder d;  // max 1 MiB
  std::vector<Frame> frames;
  const std::string h = header(kDefaultMaxLength, kDefaultMaxLength, 690, 0, 0);
  ASSERT_TRUE(d.feed(h + "abc", frames));
  EXPECT_EQ(d.buffered(), 15u);
  EXPECT_LT(d.buffer_capacity(), 1024u);
  const std::string chunk(100000, 'x');
  ASSERT_TRUE(d.feed(chunk, frames));
  EXPECT_LE(d.buffer_capacity(), 2 * d.buffered() + 64);
  for (int i = 0; i < 9; ++i) ASSERT_TRUE(d.feed(chunk, frames));  // ~1 MB, frame still open
  EXPECT_LE(d.buffer_capacity(), size_t{kDefaultMaxLength} + 4);
}

TEST(FrameDecoderTest, LengthAtTheMaximumIsAcceptedAndBufferStaysBounded) {
  FrameDecoderOptions options;
  options.max_length = 4096;
  const std::string body(4096 - 9, 'a');
  const std::string frame = Packet(body).bytes();
  ASSERT_EQ(frame.size(), 4096u + 4);
  FrameDecoder d(options);
  std::vector<Frame> frames;
  ASSERT_TRUE(d.feed(std::string_view(frame).substr(0, 100), frames));
  EXPECT_LE(d.buffered(), 4100u);
  ASSERT_TRUE(d.feed(std::string_view(frame).substr(100), frames));
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].body, body);
  FrameDecoder small(options);
  EXPECT_FALSE(small.feed(Packet(body + "b").bytes(), frames));
  EXPECT_EQ(small.error(), FrameError::kLengthTooLarge);
}

TEST(FrameDecoderTest, ExpectedTypeOptionRejectsTheOtherDirection) {
  FrameDecoderOptions options;
  options.expected_type = kServerToClient;
  FrameDecoder d(options);
  std::vector<Frame> frames;
  EXPECT_TRUE(d.feed(Packet("type@=mrkl/", kServerToClient).bytes(), frames));
  EXPECT_FALSE(d.feed(Packet("type@=mrkl/", kClientToServer).bytes(), frames));
  EXPECT_EQ(d.error(), FrameError::kUnexpectedType);
  EXPECT_EQ(d.error_message(), "frame at offset 24: unexpected message type 689 (expected 690)");
}

TEST(FrameDecoderTest, NonStrictModeIgnoresEncryptAndReservedButNotTheRest) {
  FrameDecoderOptions options;
  options.strict = false;
  FrameDecoder d(options);
  std::vector<Frame> frames;
  EXPECT_TRUE(d.feed(header(20, 20, 689, 1, 2) + std::string("type@=mrkl/\0", 12), frames));
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].body, "type@=mrkl/");
  EXPECT_FALSE(d.feed(header(20, 20, 689, 0, 0) + "type@=mrkl/x", frames));
  EXPECT_EQ(d.error(), FrameError::kMissingNul);
}

TEST(FrameDecoderTest, ErrorNamesAreStable) {
  EXPECT_STREQ(frame_error_name(FrameError::kLengthMismatch), "length_mismatch");
  EXPECT_STREQ(frame_error_name(FrameError::kMissingNul), "missing_nul");
  EXPECT_STREQ(frame_error_name(FrameError::kNone), "none");
}

TEST(FrameDecoderTest, BodyMayContainInnerNulsOnlyTheLastByteIsChecked) {
  FrameDecoder d;
  std::vector<Frame> frames;
  ASSERT_TRUE(d.feed(Packet(std::string("a\0b", 3)).bytes(), frames));
  EXPECT_EQ(frames[0].body, std::string("a\0b", 3));
}

}  // namespace
}  // namespace asyncore::douyu

#include "douyu/protocol/packet.h"

#include <gtest/gtest.h>

#include "tests/douyu/test_util.h"

namespace asyncore::douyu {
namespace {

using testing::from_hex;
using testing::to_hex;

TEST(PacketTest, LoginreqMatchesProtocolVectorByteForByte) {
  const Packet p("type@=loginreq/roomid@=9999/");
  EXPECT_EQ(to_hex(p.bytes()),
            to_hex(from_hex("25 00 00 00 25 00 00 00 b1 02 00 00 74 79 70 65 40 3d 6c 6f 67 69 6e "
                            "72 65 71 2f 72 6f 6f 6d 69 64 40 3d 39 39 39 39 2f 00")));
  EXPECT_EQ(p.length(), 0x25u);
  EXPECT_EQ(p.bytes().size(), p.length() + 4);
  EXPECT_EQ(p.type(), kClientToServer);
  EXPECT_EQ(p.body(), "type@=loginreq/roomid@=9999/");
}

TEST(PacketTest, MrklMatchesProtocolVectorByteForByte) {
  const Packet p("type@=mrkl/");
  EXPECT_EQ(to_hex(p.bytes()), to_hex(from_hex("14 00 00 00 14 00 00 00 b1 02 00 00 74 79 70 65 "
                                               "40 3d 6d 72 6b 6c 2f 00")));
  EXPECT_EQ(p.length(), 0x14u);
}

TEST(PacketTest, ServerToClientTypeIsB202) {
  const Packet p("type@=mrkl/", kServerToClient);
  EXPECT_EQ(static_cast<uint8_t>(p.bytes()[8]), 0xb2);
  EXPECT_EQ(static_cast<uint8_t>(p.bytes()[9]), 0x02);
  EXPECT_EQ(p.type(), 690);
}

TEST(PacketTest, LengthCountsUtf8BytesNotCharacters) {
  const std::string body = "type@=chatmsg/txt@=你好😀/";  // 2 CJK (3 bytes each) + emoji (4 bytes)
  const Packet p(body);
  EXPECT_EQ(body.size(), 14u + 5 + 6 + 4 + 1);
  EXPECT_EQ(p.length(), 8 + body.size() + 1);
  EXPECT_EQ(static_cast<uint8_t>(p.bytes()[0]), p.length());
}

TEST(PacketTest, EmptyBodyHasMinimumLengthNine) {
  const Packet p("");
  EXPECT_EQ(p.length(), kMinLength);
  EXPECT_EQ(p.bytes().size(), 13u);
  EXPECT_EQ(p.body(), "");
}

TEST(PacketTest, LengthAbove255UsesAllLittleEndianBytes) {
  const std::string body(70000, 'x');
  const Packet p(body);
  const uint32_t length = 8 + 70000 + 1;
  EXPECT_EQ(p.length(), length);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(static_cast<uint8_t>(p.bytes()[i]), (length >> (8 * i)) & 0xff);
    EXPECT_EQ(static_cast<uint8_t>(p.bytes()[4 + i]), (length >> (8 * i)) & 0xff);
  }
}

TEST(PacketTest, ParseRoundTripsBuiltPacket) {
  const Packet p("type@=chatmsg/txt@=弹幕/", kServerToClient);
  std::string error;
  const auto back = Packet::parse(p.bytes(), &error);
  ASSERT_TRUE(back.has_value()) << error;
  EXPECT_EQ(back->bytes(), p.bytes());
  EXPECT_EQ(back->body(), p.body());
  EXPECT_EQ(back->type(), kServerToClient);
}

TEST(PacketTest, ParseRejectsIncompleteTrailingAndMalformed) {
  const Packet p("type@=mrkl/");
  std::string error;
  EXPECT_FALSE(Packet::parse(p.bytes().substr(0, 10), &error));
  EXPECT_NE(error.find("incomplete"), std::string::npos) << error;
  EXPECT_FALSE(Packet::parse(p.bytes() + "x", &error));
  EXPECT_NE(error.find("trailing"), std::string::npos) << error;
  EXPECT_FALSE(Packet::parse(p.bytes() + p.bytes(), &error));
  std::string bad = p.bytes();
  bad[4] = 0x15;
  EXPECT_FALSE(Packet::parse(bad, &error));
  EXPECT_NE(error.find("differs"), std::string::npos) << error;
}

TEST(PacketTest, AppendFrameBatchesFramesBackToBack) {
  std::string out;
  append_frame(out, "type@=mrkl/");
  append_frame(out, "type@=logout/", kClientToServer);
  EXPECT_EQ(out, Packet("type@=mrkl/").bytes() + Packet("type@=logout/").bytes());
  EXPECT_EQ(encode_frame("a", kServerToClient), Packet("a", kServerToClient).bytes());
}

TEST(PacketTest, TakeBytesMovesTheWireImageOut) {
  Packet p("type@=mrkl/");
  const std::string copy = p.bytes();
  EXPECT_EQ(std::move(p).take_bytes(), copy);
}

}  // namespace
}  // namespace asyncore::douyu

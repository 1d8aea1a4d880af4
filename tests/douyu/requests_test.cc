#include "douyu/protocol/requests.h"

#include <gtest/gtest.h>

#include "douyu/protocol/message.h"
#include "tests/douyu/test_util.h"

namespace asyncore::douyu {
namespace {

using testing::from_hex;

TEST(RequestsTest, LoginreqIsTheProtocolVector) {
  const std::string vec = from_hex(
      "25 00 00 00 25 00 00 00 b1 02 00 00 74 79 70 65 40 3d 6c 6f 67 69 6e 72 65 71 2f 72 6f 6f "
      "6d 69 "
      "64 40 3d 39 39 39 39 2f 00");
  EXPECT_EQ(loginreq(9999).bytes(), vec);
  EXPECT_EQ(loginreq("9999").bytes(), vec);
}

TEST(RequestsTest, MrklIsTheProtocolVector) {
  EXPECT_EQ(mrkl().bytes(),
            from_hex("14 00 00 00 14 00 00 00 b1 02 00 00 74 79 70 65 40 3d 6d 72 6b 6c 2f 00"));
}

TEST(RequestsTest, JoingroupDefaultsToMassiveBarrageGroup) {
  EXPECT_EQ(joingroup(9999).body(), "type@=joingroup/rid@=9999/gid@=-9999/");
  EXPECT_EQ(joingroup("288016", 1).body(), "type@=joingroup/rid@=288016/gid@=1/");
  EXPECT_EQ(joingroup(1).type(), kClientToServer);
}

TEST(RequestsTest, KeepliveCarriesTickAndLogoutIsBare) {
  EXPECT_EQ(keeplive(1700000000).body(), "type@=keeplive/tick@=1700000000/");
  EXPECT_EQ(logout().body(), "type@=logout/");
  EXPECT_EQ(logout_body(), "type@=logout/");
  EXPECT_EQ(mrkl_body(), "type@=mrkl/");
}

TEST(RequestsTest, RoomIdIsEscapedLikeAnyValue) {
  EXPECT_EQ(loginreq_body("1/2"), "type@=loginreq/roomid@=1@S2/");
  EXPECT_EQ(Message(loginreq_body("1/2")).get_or("roomid"), "1/2");
}

}  // namespace
}  // namespace asyncore::douyu

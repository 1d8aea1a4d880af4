#include "douyu/protocol/typed_messages.h"

#include <gtest/gtest.h>

#include <deque>
#include <string>

#include "douyu/simulator/synthetic.h"

namespace asyncore::douyu {
namespace {

// Keeps a Message alive for the rest of the run: typed views point into their Message.
const Message& keep(std::string body) {
  static std::deque<Message> kept;
  return kept.emplace_back(std::move(body));
}

// A view of a temporary Message would dangle: view()/view_as() refuse rvalues at compile time.
template <class M>
constexpr bool kCanView = requires(M&& m) {
  view(std::forward<M>(m));
};
template <class M>
constexpr bool kCanViewAs = requires(M&& m) {
  view_as<ChatMsg>(std::forward<M>(m));
};
static_assert(kCanView<Message&> && kCanView<const Message&>);
static_assert(!kCanView<Message> && !kCanViewAs<Message>);
static_assert(kCanViewAs<const Message&>);

TEST(TypedMessagesTest, ChatMsgNamedFields) {
  const Message m(
      "type@=chatmsg/rid@=9999/ct@=2/uid@=123/nn@=小明/txt@=主播好😀/cid@=abc/ic@=avatar@Sface@S01/"
      "level@=15/col@=2/nl@=3/bnn@=鱼丸/bl@=7/brid@=9999/cst@=1700000000123/el@=/");
  const auto c = view_as<ChatMsg>(m);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->rid, "9999");
  EXPECT_EQ(c->uid, "123");
  EXPECT_EQ(c->nn, "小明");
  EXPECT_EQ(c->txt, "主播好😀");
  EXPECT_EQ(c->cid, "abc");
  EXPECT_EQ(c->ic, "avatar/face/01");
  EXPECT_EQ(c->level, 15);
  EXPECT_EQ(c->col, 2);
  EXPECT_EQ(c->ct, 2);
  EXPECT_EQ(c->nl, 3);
  EXPECT_EQ(c->bnn, "鱼丸");
  EXPECT_EQ(c->bl, 7);
  EXPECT_EQ(c->brid, "9999");
  EXPECT_EQ(c->cst, 1700000000123);
  EXPECT_EQ(c->el, "");
  EXPECT_FALSE(view_as<Gift>(m).has_value());
}

TEST(TypedMessagesTest, MissingOrNonNumericFieldsAreEmptyOrZero) {
  const ChatMsg c = ChatMsg::from(Message("type@=chatmsg/level@=abc/"));
  EXPECT_EQ(c.level, 0);
  EXPECT_EQ(c.txt, "");
}

TEST(TypedMessagesTest, GiftsEntersAndBroadcasts) {
  const Message g_msg(
      "type@=dgb/rid@=1/gfid@=824/gfcnt@=2/hits@=5/uid@=9/nn@=a/level@=3/"
      "ic@=x/bnn@=b/bl@=4/bcnt@=5/");
  const Gift g = *view_as<Gift>(g_msg);
  EXPECT_EQ(g.gfid, 824);
  EXPECT_EQ(g.gfcnt, 2);
  EXPECT_EQ(g.hits, 5);
  EXPECT_EQ(g.bcnt, 5);
  EXPECT_EQ(g.bnn, "b");
  const Message u_msg("type@=uenter/rid@=1/uid@=2/nn@=n/level@=9/ic@=i/nl@=1/");
  const UserEnter u = *view_as<UserEnter>(u_msg);
  EXPECT_EQ(u.nn, "n");
  EXPECT_EQ(u.level, 9);
  EXPECT_EQ(u.nl, 1);
  const Message s_msg("type@=spbc/sn@=A/dn@=B/gn@=火箭/gc@=1/drid@=77/gfid@=59/es@=1/");
  const GiftBroadcast s = *view_as<GiftBroadcast>(s_msg);
  EXPECT_EQ(s.gn, "火箭");
  EXPECT_EQ(s.drid, "77");
  EXPECT_EQ(s.gc, 1);
}

TEST(TypedMessagesTest, RoomStatusSuperBarrageNoblesBadgesLevels) {
  const Message r_msg("type@=rss/rid@=1/ss@=1/code@=0/rt@=0/notify@=0/endtime@=0/");
  const RoomStatus r = *view_as<RoomStatus>(r_msg);
  EXPECT_TRUE(r.live());
  const Message sb_msg("type@=ssd/rid@=1/sdid@=2/trid@=3/content@=hi/");
  const SuperBarrage sb = *view_as<SuperBarrage>(sb_msg);
  EXPECT_EQ(sb.content, "hi");
  EXPECT_EQ(view_as<NobleOpen>(keep("type@=anbc/uid@=1/unk@=u/drid@=2/donk@=d/nl@=6/"))->nl, 6);
  EXPECT_EQ(view_as<NobleRenew>(keep("type@=rnewbc/uid@=1/unk@=u/drid@=2/donk@=d/nl@=5/"))->donk,
            "d");
  EXPECT_EQ(view_as<BadgeUp>(keep("type@=blab/uid@=1/nn@=n/bl@=8/bnn@=b/"))->bl, 8);
  EXPECT_EQ(view_as<LevelUp>(keep("type@=upgrade/uid@=1/nn@=n/level@=30/"))->level, 30);
  EXPECT_EQ(view_as<LoginResponse>(keep("type@=loginres/userid@=5/live_stat@=1/"))->userid, "5");
  EXPECT_EQ(view_as<ServerError>(keep("type@=error/code@=51/"))->code, 51);
  EXPECT_EQ(view_as<PingRequest>(keep("type@=pingreq/tick@=1700000000000/"))->tick, 1700000000000);
  EXPECT_TRUE(view_as<Heartbeat>(keep("type@=mrkl/")).has_value());
}

TEST(TypedMessagesTest, BuyDeserveDecodesItsNestedMap) {
  const Message b_msg(
      "type@=bc_buy_deserve/rid@=1/level@=2/cnt@=3/hits@=4/lev@=1/sui@=id@A=7@Snick@A=a@AAb@S/");
  const BuyDeserve b = *view_as<BuyDeserve>(b_msg);
  EXPECT_EQ(b.cnt, 3);
  EXPECT_EQ(b.sui_map(), (SttValue::Map{{"id", "7"}, {"nick", "a@b"}}));
}

TEST(TypedMessagesTest, RankListsDecodeNestedListsOfMaps) {
  const Message m("type@=noble_num_info/sum@=1/list@=lev@AA=7@ASnum@AA=1@AS@S/");
  const RankList r = *view_as<RankList>(m);
  EXPECT_EQ(r.type, "noble_num_info");
  EXPECT_EQ(r.sum, 1);
  EXPECT_EQ(r.list_text, "lev@A=7@Snum@A=1@S/");  // unescaped once, with the message
  ASSERT_EQ(r.entry_count(), 1u);
  ASSERT_EQ(r.entries().size(), 1u);
  EXPECT_EQ(r.entries()[0], (SttValue::Map{{"lev", "7"}, {"num", "1"}}));
  for (const char* t : {"frank", "fswrank", "ranklist"}) {
    const Message x("type@=" + std::string(t) + "/list@=uid@AA=1@AS@S/");
    ASSERT_TRUE(std::holds_alternative<RankList>(view(x))) << t;
    EXPECT_EQ(std::get<RankList>(view(x)).entry_count(), 1u);
  }
}

TEST(TypedMessagesTest, RankListCountsItsEntriesAsDecodingWouldFindThem) {
  // entry_count() counts without decoding: it must agree with entries() on every shape a list
  // can take (none, a last item without its '/', empty items, an item with an escaped '/').
  for (const char* list : {"", "/", "a@A=1@S/", "a@A=1@S", "a@A=1@S/b@A=2@S/", "a@A=1@S//", "//",
                           "a@A=x@AS/y@S/", "a@A=1@S/b@A=2@S"}) {
    RankList r;
    r.list_text = list;
    EXPECT_EQ(r.entry_count(), r.entries().size()) << "list '" << list << "'";
  }
  const Message none("type@=frank/sum@=3/");
  EXPECT_EQ(view_as<RankList>(none)->entry_count(), 0u);
  EXPECT_TRUE(view_as<RankList>(none)->entries().empty());
}

TEST(TypedMessagesTest, UnknownTypesPassThroughAsGenericNeverDropped) {
  const Message m("type@=lucky_wheel_star_pool/a@=1/");
  const TypedMessage t = view(m);
  ASSERT_TRUE(std::holds_alternative<GenericMessage>(t));
  EXPECT_EQ(std::get<GenericMessage>(t).message, &m);
  EXPECT_TRUE(std::holds_alternative<GenericMessage>(view(keep("no type here"))));
}

TEST(TypedMessagesTest, ViewDispatchesEveryModelledType) {
  SyntheticRoom room(3);
  const std::pair<std::string, size_t> cases[] = {{room.chatmsg(), 1},
                                                  {room.uenter(), 2},
                                                  {room.dgb(), 3},
                                                  {room.spbc(), 4},
                                                  {room.rss(), 5},
                                                  {room.bc_buy_deserve(), 6},
                                                  {room.ssd(), 7},
                                                  {room.anbc(), 8},
                                                  {room.rnewbc(), 9},
                                                  {room.blab(), 10},
                                                  {room.upgrade(), 11},
                                                  {room.loginres(), 12},
                                                  {room.pingreq(), 14},
                                                  {room.mrkl(), 15},
                                                  {room.noble_num_info(), 16},
                                                  {room.frank(), 16},
                                                  {room.fswrank(), 16},
                                                  {room.ranklist(), 16},
                                                  {room.unknown(), 0},
                                                  {"type@=error/code@=52/", 13}};
  for (const auto& [body, index] : cases) {
    const Message m(body);
    EXPECT_EQ(view(m).index(), index) << body;
  }
}

}  // namespace
}  // namespace asyncore::douyu

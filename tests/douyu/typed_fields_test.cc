// The one-pass typed views (typed_fields.h) against a reference written the old way — one
// Message::get_or / get_int_or per member — on synthetic rooms and on random messages full of
// repeated keys, near-miss keys, escapes and odd numbers.
#include "douyu/protocol/typed_fields.h"

#include <gtest/gtest.h>

#include <array>
#include <cctype>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "douyu/protocol/stt.h"
#include "douyu/protocol/typed_messages.h"
#include "douyu/simulator/synthetic.h"

namespace asyncore::douyu {
namespace {

// --- the reference: the per-member linear gets that typed_messages.cc had before the tables ---
std::string_view s(const Message& m, std::string_view key) { return m.get_or(key); }
int64_t i(const Message& m, std::string_view key) { return m.get_int_or(key, 0); }

ChatMsg ref_chat(const Message& m) {
  ChatMsg c;
  c.rid = s(m, "rid");
  c.uid = s(m, "uid");
  c.nn = s(m, "nn");
  c.txt = s(m, "txt");
  c.cid = s(m, "cid");
  c.ic = s(m, "ic");
  c.bnn = s(m, "bnn");
  c.brid = s(m, "brid");
  c.level = i(m, "level");
  c.col = i(m, "col");
  c.ct = i(m, "ct");
  c.nl = i(m, "nl");
  c.bl = i(m, "bl");
  c.cst = i(m, "cst");
  c.el = s(m, "el");
  return c;
}
UserEnter ref_uenter(const Message& m) {
  UserEnter u;
  u.rid = s(m, "rid");
  u.uid = s(m, "uid");
  u.nn = s(m, "nn");
  u.ic = s(m, "ic");
  u.level = i(m, "level");
  u.nl = i(m, "nl");
  return u;
}
Gift ref_gift(const Message& m) {
  Gift g;
  g.rid = s(m, "rid");
  g.uid = s(m, "uid");
  g.nn = s(m, "nn");
  g.ic = s(m, "ic");
  g.bnn = s(m, "bnn");
  g.gfid = i(m, "gfid");
  g.gfcnt = i(m, "gfcnt");
  g.hits = i(m, "hits");
  g.level = i(m, "level");
  g.bl = i(m, "bl");
  g.bcnt = i(m, "bcnt");
  return g;
}
GiftBroadcast ref_spbc(const Message& m) {
  GiftBroadcast g;
  g.sn = s(m, "sn");
  g.dn = s(m, "dn");
  g.gn = s(m, "gn");
  g.drid = s(m, "drid");
  g.es = s(m, "es");
  g.gc = i(m, "gc");
  g.gfid = i(m, "gfid");
  return g;
}
RoomStatus ref_rss(const Message& m) {
  RoomStatus r;
  r.rid = s(m, "rid");
  r.notify = s(m, "notify");
  r.ss = i(m, "ss");
  r.code = i(m, "code");
  r.rt = i(m, "rt");
  r.endtime = i(m, "endtime");
  return r;
}
BuyDeserve ref_deserve(const Message& m) {
  BuyDeserve b;
  b.rid = s(m, "rid");
  b.level = i(m, "level");
  b.cnt = i(m, "cnt");
  b.hits = i(m, "hits");
  b.lev = i(m, "lev");
  b.sui = s(m, "sui");
  return b;
}
SuperBarrage ref_ssd(const Message& m) {
  SuperBarrage b;
  b.rid = s(m, "rid");
  b.sdid = s(m, "sdid");
  b.trid = s(m, "trid");
  b.content = s(m, "content");
  return b;
}
template <class N>
N ref_noble(const Message& m) {
  N n;
  n.uid = s(m, "uid");
  n.unk = s(m, "unk");
  n.drid = s(m, "drid");
  n.donk = s(m, "donk");
  n.nl = i(m, "nl");
  return n;
}
BadgeUp ref_blab(const Message& m) {
  BadgeUp b;
  b.uid = s(m, "uid");
  b.nn = s(m, "nn");
  b.bnn = s(m, "bnn");
  b.bl = i(m, "bl");
  return b;
}
LevelUp ref_upgrade(const Message& m) {
  LevelUp l;
  l.uid = s(m, "uid");
  l.nn = s(m, "nn");
  l.level = i(m, "level");
  return l;
}
LoginResponse ref_loginres(const Message& m) {
  LoginResponse l;
  l.userid = s(m, "userid");
  l.roomgroup = s(m, "roomgroup");
  l.pg = s(m, "pg");
  l.sessionid = s(m, "sessionid");
  l.username = s(m, "username");
  l.nickname = s(m, "nickname");
  l.live_stat = i(m, "live_stat");
  return l;
}
ServerError ref_error(const Message& m) { return ServerError{i(m, "code")}; }
PingRequest ref_pingreq(const Message& m) { return PingRequest{i(m, "tick")}; }
RankList ref_rank(const Message& m) {
  RankList r;
  r.type = m.type();
  r.sum = i(m, "sum");
  r.list_text = m.get_or("list");
  return r;
}

TypedMessage ref_view(const Message& m) {
  const std::string_view t = m.type();
  if (t == "chatmsg") return ref_chat(m);
  if (t == "uenter") return ref_uenter(m);
  if (t == "dgb") return ref_gift(m);
  if (t == "spbc") return ref_spbc(m);
  if (t == "rss") return ref_rss(m);
  if (t == "bc_buy_deserve") return ref_deserve(m);
  if (t == "ssd") return ref_ssd(m);
  if (t == "anbc") return ref_noble<NobleOpen>(m);
  if (t == "rnewbc") return ref_noble<NobleRenew>(m);
  if (t == "blab") return ref_blab(m);
  if (t == "upgrade") return ref_upgrade(m);
  if (t == "loginres") return ref_loginres(m);
  if (t == "error") return ref_error(m);
  if (t == "pingreq") return ref_pingreq(m);
  if (t == "mrkl") return Heartbeat{};
  if (t == "noble_num_info" || t == "frank" || t == "fswrank" || t == "ranklist") {
    return ref_rank(m);
  }
  return GenericMessage{&m};
}

// Every modelled type with its member keys (written out here, not taken from the tables).
struct TypeKeys {
  std::string type;
  std::vector<std::string> keys;
};
const std::vector<TypeKeys>& all_types() {
  static const std::vector<TypeKeys> types = {
      {"chatmsg",
       {"rid", "uid", "nn", "txt", "cid", "ic", "bnn", "brid", "level", "col", "ct", "nl", "bl",
        "cst", "el"}},
      {"uenter", {"rid", "uid", "nn", "ic", "level", "nl"}},
      {"dgb", {"rid", "uid", "nn", "ic", "bnn", "gfid", "gfcnt", "hits", "level", "bl", "bcnt"}},
      {"spbc", {"sn", "dn", "gn", "drid", "es", "gc", "gfid"}},
      {"rss", {"rid", "notify", "ss", "code", "rt", "endtime"}},
      {"bc_buy_deserve", {"rid", "level", "cnt", "hits", "lev", "sui"}},
      {"ssd", {"rid", "sdid", "trid", "content"}},
      {"anbc", {"uid", "unk", "drid", "donk", "nl"}},
      {"rnewbc", {"uid", "unk", "drid", "donk", "nl"}},
      {"blab", {"uid", "nn", "bnn", "bl"}},
      {"upgrade", {"uid", "nn", "level"}},
      {"loginres", {"userid", "roomgroup", "pg", "sessionid", "username", "nickname", "live_stat"}},
      {"error", {"code"}},
      {"pingreq", {"tick"}},
      {"mrkl", {}},
      {"noble_num_info", {"sum", "list"}},
      {"frank", {"sum", "list"}},
      {"fswrank", {"sum", "list"}},
      {"ranklist", {"sum", "list"}},
  };
  return types;
}

// view(m) equals the reference, and T::from(m) for every T regardless of type() (from() does not
// look at the type).
void expect_same_as_reference(const Message& m, const std::string& body) {
  ASSERT_TRUE(view(m) == ref_view(m)) << body;
  EXPECT_EQ(ChatMsg::from(m), ref_chat(m)) << body;
  EXPECT_EQ(UserEnter::from(m), ref_uenter(m)) << body;
  EXPECT_EQ(Gift::from(m), ref_gift(m)) << body;
  EXPECT_EQ(GiftBroadcast::from(m), ref_spbc(m)) << body;
  EXPECT_EQ(RoomStatus::from(m), ref_rss(m)) << body;
  EXPECT_EQ(BuyDeserve::from(m), ref_deserve(m)) << body;
  EXPECT_EQ(SuperBarrage::from(m), ref_ssd(m)) << body;
  EXPECT_EQ(NobleOpen::from(m), ref_noble<NobleOpen>(m)) << body;
  EXPECT_EQ(NobleRenew::from(m), ref_noble<NobleRenew>(m)) << body;
  EXPECT_EQ(BadgeUp::from(m), ref_blab(m)) << body;
  EXPECT_EQ(LevelUp::from(m), ref_upgrade(m)) << body;
  EXPECT_EQ(LoginResponse::from(m), ref_loginres(m)) << body;
  EXPECT_EQ(ServerError::from(m), ref_error(m)) << body;
  EXPECT_EQ(PingRequest::from(m), ref_pingreq(m)) << body;
  EXPECT_EQ(RankList::from(m), ref_rank(m)) << body;
}

TEST(TypedFieldsTest, SyntheticRoomsMatchThePerMemberGets) {
  for (uint64_t seed : {1u, 2u, 77u}) {
    SyntheticRoom room(seed);
    for (int n = 0; n < 5000; ++n) {
      const std::string body = room.next_body();
      const Message m(body);
      expect_same_as_reference(m, body);
      if (HasFatalFailure()) return;
    }
  }
}

TEST(TypedFieldsTest, EveryKindOfSyntheticMessageMatches) {
  SyntheticRoom room(9);
  for (int n = 0; n < 50; ++n) {
    for (const std::string& body :
         {room.chatmsg(), room.uenter(), room.dgb(), room.spbc(), room.rss(), room.bc_buy_deserve(),
          room.ssd(), room.anbc(), room.rnewbc(), room.blab(), room.upgrade(),
          room.noble_num_info(), room.frank(), room.fswrank(), room.ranklist(), room.loginres(),
          room.pingreq(), room.mrkl(), room.unknown()}) {
      const Message m(body);
      expect_same_as_reference(m, body);
    }
  }
}

// Every member is filled from its own key: a message carrying every key of its type, each with a
// distinct value, gives a view in which every member differs from the default one.
TEST(TypedFieldsTest, EveryMemberIsFilledFromItsKey) {
  for (const TypeKeys& t : all_types()) {
    SttWriter w;
    w.add("type", t.type);
    int64_t v = 1000;
    for (const std::string& k : t.keys) {
      if (k == "list") {
        w.add(k, "uid@AA=1@AS@S");
      } else {
        w.add(k, ++v);  // a number: text members get its digits, numeric ones its value
      }
    }
    const std::string body = w.str();
    const Message m(body);
    expect_same_as_reference(m, body);
    // Drop any one key: the view changes (so no member is filled from another member's key).
    const TypedMessage whole = view(m);
    for (size_t drop = 0; drop < t.keys.size(); ++drop) {
      SttWriter d;
      d.add("type", t.type);
      int64_t dv = 1000;
      for (size_t k = 0; k < t.keys.size(); ++k) {
        ++dv;
        if (k == drop) continue;
        if (t.keys[k] == "list") {
          d.add(t.keys[k], "uid@AA=1@AS@S");
        } else {
          d.add(t.keys[k], dv);
        }
      }
      const Message dm(d.str());
      EXPECT_FALSE(view(dm) == whole) << t.type << " without " << t.keys[drop];
      expect_same_as_reference(dm, d.str());
    }
  }
}

// Near misses of member keys: same length and first/last byte with another middle ("rxd" for
// "rid"), prefixes ("n" for "nn"), extensions ("nnx"), case ("NN").
std::vector<std::string> near_misses(const std::string& k) {
  std::vector<std::string> out{k + "x", "x" + k, k + k};
  if (k.size() > 1) out.push_back(k.substr(0, k.size() - 1));
  if (k.size() > 1) out.push_back(k.substr(1));
  if (k.size() >= 3) {
    std::string mid = k;
    mid[1] = mid[1] == 'x' ? 'y' : 'x';
    out.push_back(mid);
  }
  std::string upper = k;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  out.push_back(upper);
  return out;
}

// Random messages of each type: member keys, near misses, unknown keys, repeats (first wins),
// values that are numbers, not quite numbers, overflowing, empty, escaped, CJK, nested.
TEST(TypedFieldsTest, RandomMessagesMatchThePerMemberGets) {
  std::mt19937_64 rng(13);
  const std::vector<std::string> values = {"",
                                           "0",
                                           "7",
                                           "-5",
                                           "-0",
                                           "+3",
                                           " 12",
                                           "12 ",
                                           "12abc",
                                           "1.5",
                                           "0x1f",
                                           "007",
                                           "9223372036854775807",
                                           "9223372036854775808",
                                           "-9223372036854775808",
                                           "99999999999999999999",
                                           "abc",
                                           "小明😀",
                                           "avatar/face/01",
                                           "a@b",
                                           "@=/",
                                           "k@A=v@S",
                                           "uid@A=1/nn@A=x/"};
  const std::vector<std::string> others = {"type", "sahf", "hc", "dms", "pdg", "ext", "a/b",
                                           "n@n",  "x@=y", "",   "el2", "ty",  "typ"};
  size_t messages = 0;
  for (const TypeKeys& t : all_types()) {
    std::vector<std::string> keys = others;
    for (const std::string& k : t.keys) {
      keys.push_back(k);
      keys.push_back(k);  // members twice as likely
      for (std::string& miss : near_misses(k)) keys.push_back(std::move(miss));
    }
    for (int n = 0; n < 400; ++n) {
      SttWriter w;
      w.add("type", t.type);
      const size_t fields = rng() % 40;
      for (size_t f = 0; f < fields; ++f) {
        w.add(keys[rng() % keys.size()], values[rng() % values.size()]);
      }
      const std::string body = w.str();
      const Message m(body);
      expect_same_as_reference(m, body);
      if (HasFatalFailure()) return;
      ++messages;
    }
  }
  EXPECT_EQ(messages, all_types().size() * 400);
}

TEST(TypedFieldsTest, FirstOccurrenceOfARepeatedKeyWins) {
  const Message m("type@=chatmsg/nn@=first/level@=3/nn@=second/level@=9/txt@=/txt@=later/");
  const ChatMsg c = *view_as<ChatMsg>(m);
  EXPECT_EQ(c.nn, "first");
  EXPECT_EQ(c.level, 3);
  EXPECT_EQ(c.txt, "");  // present but empty: the later "later" does not replace it
  // The first value is not a number: 0, not the second's 9 (as get_int_or of the first value).
  EXPECT_EQ(ChatMsg::from(Message("level@=x/level@=9/")).level, 0);
  EXPECT_EQ(ChatMsg::from(Message("level@=/level@=9/")).level, 0);
  // Every member set, then repeats of all of them: the walk may stop early, the result is the same.
  const Message all("rid@=1/uid@=2/nn@=3/ic@=4/level@=5/nl@=6/rid@=a/uid@=b/nn@=c/level@=0/");
  const UserEnter u = UserEnter::from(all);
  EXPECT_EQ(u, (UserEnter{"1", "2", "3", "4", 5, 6}));
}

TEST(TypedFieldsTest, EscapedKeysAndValues) {
  // Values are unescaped once ("@S" → "/", "@A" → "@"); a key unescapes too: "n@An" is "n@n", not
  // "nn"; "@Snn" is "/nn".
  const Message m("type@=chatmsg/n@An@=no/@Snn@=no/nn@=a@Sb@Ac/ic@=avatar@Sface@S01/col@=@A1/");
  const ChatMsg c = *view_as<ChatMsg>(m);
  EXPECT_EQ(c.nn, "a/b@c");
  EXPECT_EQ(c.ic, "avatar/face/01");
  EXPECT_EQ(c.col, 0);  // "@1" is not a number
  EXPECT_EQ(c, ref_chat(m));
  // "le@Avel" is "le@vel": not "level".
  const Message k("type@=chatmsg/le@Avel@=1/bnn@=x@Ay/");
  EXPECT_EQ(view_as<ChatMsg>(k)->level, 0);
  EXPECT_EQ(view_as<ChatMsg>(k)->bnn, "x@y");
}

TEST(TypedFieldsTest, NonNumericIntegersAreZero) {
  for (const char* v : {"abc", "12abc", "1.5", "+3", " 12", "12 ", "0x1f", "99999999999999999999",
                        "9223372036854775808", "", "-"}) {
    const Message m(std::string("type@=dgb/gfid@=") + v + "/hits@=" + v + "/");
    const Gift g = *view_as<Gift>(m);
    EXPECT_EQ(g.gfid, 0) << v;
    EXPECT_EQ(g.hits, 0) << v;
  }
  EXPECT_EQ(Gift::from(Message("gfid@=-42/hits@=007/")).gfid, -42);
  EXPECT_EQ(Gift::from(Message("gfid@=-42/hits@=007/")).hits, 7);
  EXPECT_EQ(Gift::from(Message("gfid@=-9223372036854775808/")).gfid, INT64_MIN);
  EXPECT_EQ(typed_field_int("9223372036854775807"), INT64_MAX);
  EXPECT_EQ(typed_field_int(""), 0);
  // The fast path (up to 18 digits) and from_chars (longer) agree with Message::get_int.
  for (const char* v : {"-", "--1", "-a", "a", "1-", "0", "-0", "00", "999999999999999999",
                        "-999999999999999999", "1000000000000000000", "-1000000000000000000",
                        "9223372036854775807", "09223372036854775807", "-9223372036854775809",
                        "123456789012345678a", "12345678901234567x", "1:", ":"}) {
    const Message m(std::string("v@=") + v + "/");
    EXPECT_EQ(typed_field_int(v), m.get_int_or("v", 0)) << v;
  }
}

TEST(TypedFieldsTest, PrefixesAndExtensionsOfMemberKeysAreOtherKeys) {
  const Message m("type@=chatmsg/n@=1/nnx@=2/nnn@=3/xnn@=4/NN@=5/ri@=6/rxd@=7/levels@=8/evel@=9/");
  const ChatMsg c = *view_as<ChatMsg>(m);
  EXPECT_EQ(c, ChatMsg{});
  const Message b("type@=blab/bl@=1/bnn@=2/b@=3/bll@=4/");
  EXPECT_EQ(*view_as<BadgeUp>(b), (BadgeUp{"", "", "2", 1}));
}

TEST(TypedFieldsTest, EmptyAndUnknownFields) {
  EXPECT_EQ(ChatMsg::from(Message()), ChatMsg{});
  EXPECT_EQ(ChatMsg::from(Message("")), ChatMsg{});
  EXPECT_EQ(LoginResponse::from(Message("@=x/=/@=/a@=b/")), LoginResponse{});
  const Message empty;
  EXPECT_TRUE(std::holds_alternative<GenericMessage>(view(empty)));
  const Message unknown("type@=chatmsg/sahf@=0/dms@=3/pdg@=1/");
  EXPECT_EQ(*view_as<ChatMsg>(unknown), ChatMsg{});
  // Fields are found wherever they are, type first or not.
  const Message late("nn@=a/type@=chatmsg/level@=2/");
  EXPECT_EQ(view_as<ChatMsg>(late)->nn, "a");
  EXPECT_EQ(view_as<ChatMsg>(late)->level, 2);
}

TEST(TypedFieldsTest, ViewLooksUpTypesExactly) {
  for (const TypeKeys& t : all_types()) {
    const Message m("type@=" + t.type + "/");
    EXPECT_FALSE(std::holds_alternative<GenericMessage>(view(m))) << t.type;
    for (const std::string& miss : near_misses(t.type)) {
      const Message x("type@=" + miss + "/");
      EXPECT_TRUE(std::holds_alternative<GenericMessage>(view(x))) << miss;
    }
  }
  for (const char* t : {"", "c", "chatmsg ", "chatmsgchatmsgchatmsgchatmsgchatmsg", "CHATMSG"}) {
    const Message x(std::string("type@=") + t + "/");
    EXPECT_TRUE(std::holds_alternative<GenericMessage>(view(x))) << t;
  }
}

TEST(TypedFieldsTest, KeyIndexFindsItsKeysAndNothingElse) {
  static constexpr std::array<std::string_view, 5> kKeys{"nn", "nl", "level", "a", "rid"};
  static constexpr KeyIndex<5> index{kKeys};
  for (size_t k = 0; k < kKeys.size(); ++k) EXPECT_EQ(index.find(kKeys[k]), static_cast<int>(k));
  for (std::string_view miss : {"", "n", "nnx", "nx", "b", "lxvel", "levelx", "rxd", "ri", "id",
                                "aa", "0123456789012345678901234567890123456789"}) {
    EXPECT_EQ(index.find(miss), -1) << miss;
  }
  // A key of 31 bytes is the longest.
  static constexpr std::array<std::string_view, 1> kLong{"0123456789012345678901234567890"};
  static constexpr KeyIndex<1> long_index{kLong};
  EXPECT_EQ(long_index.find("0123456789012345678901234567890"), 0);
  EXPECT_EQ(long_index.find("0123456789012345678901234567899"), -1);
  EXPECT_EQ(long_index.find("01234567890123456789012345678900"), -1);
}

// The tables themselves: each entry names exactly one member, and the key index maps each key
// back to its entry.
template <class T>
void expect_table_consistent() {
  constexpr auto& members = TypedFields<T>::kMembers;
  for (size_t k = 0; k < members.size(); ++k) {
    EXPECT_NE(members[k].text == nullptr, members[k].number == nullptr) << members[k].key;
    EXPECT_EQ(typed_fields_detail::kIndex<T>.find(members[k].key), static_cast<int>(k));
    // Filling from that key alone sets that member and nothing else.
    T expected{};
    set_member(expected, members[k], members[k].text != nullptr ? "v" : "42");
    if (members[k].text != nullptr) {
      EXPECT_EQ(expected.*members[k].text, "v");
    } else {
      EXPECT_EQ(expected.*members[k].number, 42);
    }
    const std::string body =
        std::string(members[k].key) + (members[k].text != nullptr ? "@=v/" : "@=42/");
    const Message m(body);
    EXPECT_TRUE(fill<T>(m) == expected) << body;
  }
}

TEST(TypedFieldsTest, EveryTableEntryFillsOnlyItsMember) {
  expect_table_consistent<ChatMsg>();
  expect_table_consistent<UserEnter>();
  expect_table_consistent<Gift>();
  expect_table_consistent<GiftBroadcast>();
  expect_table_consistent<RoomStatus>();
  expect_table_consistent<BuyDeserve>();
  expect_table_consistent<SuperBarrage>();
  expect_table_consistent<NobleOpen>();
  expect_table_consistent<NobleRenew>();
  expect_table_consistent<BadgeUp>();
  expect_table_consistent<LevelUp>();
  expect_table_consistent<LoginResponse>();
  expect_table_consistent<ServerError>();
  expect_table_consistent<PingRequest>();
}

}  // namespace
}  // namespace asyncore::douyu

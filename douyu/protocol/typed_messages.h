// Typed views of the server messages of PROTOCOL.md §4: named fields over a decoded Message.
//
//   Message msg = Message::from_frame(std::move(frame));
//   std::visit(overloaded{[](const ChatMsg& c) { ... c.nn, c.txt ... },
//                         [](const GenericMessage& g) { ... g.message->type() ... }, ...},
//              view(msg));
//
// or, for one type: if (auto chat = view_as<ChatMsg>(msg)) { ... }.
//
// Text fields are string_views into the Message (keep it alive, do not move it, while a view is
// used); numeric fields are parsed (0 when absent or not a number — the wire is text, and a
// client should not die on a field it does not need). Missing fields are empty, never an error.
// Every type not listed here is a GenericMessage: passed through, never dropped.
//
// Each view is filled in one walk over the message's fields through its type's table of
// (key → member) in typed_fields.h: the first occurrence of a repeated key wins (as Message::get).
// Views compare equal member by member (operator==).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "douyu/protocol/message.h"
#include "douyu/protocol/stt_value.h"

namespace asyncore::douyu {

// Barrage (chat). col: 0 default, 1 red, 2 blue, 3 green, 4 orange, 5 purple, 6 pink.
struct ChatMsg {
  static constexpr std::string_view kType = "chatmsg";
  std::string_view rid, uid, nn, txt, cid, ic, bnn, brid;
  int64_t level = 0, col = 0, ct = 0, nl = 0, bl = 0, cst = 0;
  std::string_view el;  // nested (effects list), still STT text: decode with stt_decode_value()
  static ChatMsg from(const Message& m);
  friend bool operator==(const ChatMsg&, const ChatMsg&) = default;
};

// A user entered the room.
struct UserEnter {
  static constexpr std::string_view kType = "uenter";
  std::string_view rid, uid, nn, ic;
  int64_t level = 0, nl = 0;
  static UserEnter from(const Message& m);
  friend bool operator==(const UserEnter&, const UserEnter&) = default;
};

// A gift. The wire carries the gift id only (gfid), no name.
struct Gift {
  static constexpr std::string_view kType = "dgb";
  std::string_view rid, uid, nn, ic, bnn;
  int64_t gfid = 0, gfcnt = 0, hits = 0, level = 0, bl = 0, bcnt = 0;
  static Gift from(const Message& m);
  friend bool operator==(const Gift&, const Gift&) = default;
};

// Room gift broadcast (rockets, planes): sender sn gives gn x gc to dn in room drid.
struct GiftBroadcast {
  static constexpr std::string_view kType = "spbc";
  std::string_view sn, dn, gn, drid, es;
  int64_t gc = 0, gfid = 0;
  static GiftBroadcast from(const Message& m);
  friend bool operator==(const GiftBroadcast&, const GiftBroadcast&) = default;
};

// Live on/off.
struct RoomStatus {
  static constexpr std::string_view kType = "rss";
  std::string_view rid, notify;
  int64_t ss = 0, code = 0, rt = 0, endtime = 0;
  bool live() const { return ss == 1; }
  static RoomStatus from(const Message& m);
  friend bool operator==(const RoomStatus&, const RoomStatus&) = default;
};

// "Chouqin" reward.
struct BuyDeserve {
  static constexpr std::string_view kType = "bc_buy_deserve";
  std::string_view rid;
  int64_t level = 0, cnt = 0, hits = 0, lev = 0;
  std::string_view sui;  // nested map, STT text
  SttValue::Map sui_map() const { return stt_decode_map(sui); }
  static BuyDeserve from(const Message& m);
  friend bool operator==(const BuyDeserve&, const BuyDeserve&) = default;
};

// Super barrage.
struct SuperBarrage {
  static constexpr std::string_view kType = "ssd";
  std::string_view rid, sdid, trid, content;
  static SuperBarrage from(const Message& m);
  friend bool operator==(const SuperBarrage&, const SuperBarrage&) = default;
};

// Noble opened (anbc) / renewed (rnewbc).
struct NobleEvent {
  std::string_view uid, unk, drid, donk;
  int64_t nl = 0;
  friend bool operator==(const NobleEvent&, const NobleEvent&) = default;
};
struct NobleOpen : NobleEvent {
  static constexpr std::string_view kType = "anbc";
  static NobleOpen from(const Message& m);
  friend bool operator==(const NobleOpen&, const NobleOpen&) = default;
};
struct NobleRenew : NobleEvent {
  static constexpr std::string_view kType = "rnewbc";
  static NobleRenew from(const Message& m);
  friend bool operator==(const NobleRenew&, const NobleRenew&) = default;
};

// Fan badge level up.
struct BadgeUp {
  static constexpr std::string_view kType = "blab";
  std::string_view uid, nn, bnn;
  int64_t bl = 0;
  static BadgeUp from(const Message& m);
  friend bool operator==(const BadgeUp&, const BadgeUp&) = default;
};

// User level up.
struct LevelUp {
  static constexpr std::string_view kType = "upgrade";
  std::string_view uid, nn;
  int64_t level = 0;
  static LevelUp from(const Message& m);
  friend bool operator==(const LevelUp&, const LevelUp&) = default;
};

// Login answer. A client needs none of these to go on.
struct LoginResponse {
  static constexpr std::string_view kType = "loginres";
  std::string_view userid, roomgroup, pg, sessionid, username, nickname;
  int64_t live_stat = 0;
  static LoginResponse from(const Message& m);
  friend bool operator==(const LoginResponse&, const LoginResponse&) = default;
};

// Server error. code: 0 ok, 51 data transmission error, 52 server closed, 204 bad room id.
struct ServerError {
  static constexpr std::string_view kType = "error";
  int64_t code = 0;
  static ServerError from(const Message& m);
  friend bool operator==(const ServerError&, const ServerError&) = default;
};

// Server ping; tick in ms.
struct PingRequest {
  static constexpr std::string_view kType = "pingreq";
  int64_t tick = 0;
  static PingRequest from(const Message& m);
  friend bool operator==(const PingRequest&, const PingRequest&) = default;
};

// Heartbeat answer (no fields).
struct Heartbeat {
  static constexpr std::string_view kType = "mrkl";
  static Heartbeat from(const Message&) { return {}; }
  friend bool operator==(const Heartbeat&, const Heartbeat&) = default;
};

// A ranking list: noble_num_info, frank, fswrank, ranklist. `list_text` is the nested list of
// maps (uid, nn, lev, ...) as the message holds it (a list whose items are still escaped once).
// Like every view, making one decodes nothing more than the top level and allocates nothing:
// entries() decodes the list when asked (on each call; the maps own their strings), and
// entry_count() counts its items without decoding them. (Decoding 5 to 25 maps per rank list
// when the view was made was a tenth of --decode=typed's time, for lists most handlers skip.)
struct RankList {
  std::string_view type;
  int64_t sum = 0;             // noble_num_info: number of nobles
  std::string_view list_text;  // the `list` field
  std::vector<SttValue::Map> entries() const { return stt_decode_map_list(list_text); }
  size_t entry_count() const;  // == entries().size()
  static bool is_rank_type(std::string_view type);
  static RankList from(const Message& m);
  friend bool operator==(const RankList&, const RankList&) = default;
};

// Any other type: pass it through.
struct GenericMessage {
  const Message* message = nullptr;
  friend bool operator==(const GenericMessage&, const GenericMessage&) = default;
};

using TypedMessage =
    std::variant<GenericMessage, ChatMsg, UserEnter, Gift, GiftBroadcast, RoomStatus, BuyDeserve,
                 SuperBarrage, NobleOpen, NobleRenew, BadgeUp, LevelUp, LoginResponse, ServerError,
                 PingRequest, Heartbeat, RankList>;

// The typed view for the message's type, or GenericMessage.
TypedMessage view(const Message& message);
// A view of a temporary Message would dangle at once: refused at compile time.
TypedMessage view(const Message&& message) = delete;

// The view as T when the message is of T's type.
template <class T>
std::optional<T> view_as(const Message& message) {
  if constexpr (std::is_same_v<T, RankList>) {
    if (!RankList::is_rank_type(message.type())) {
      return std::nullopt;
    }
  } else {
    if (message.type() != T::kType) {
      return std::nullopt;
    }
  }
  return T::from(message);
}
template <class T>
std::optional<T> view_as(const Message&& message) = delete;  // would dangle: keep the Message

}  // namespace asyncore::douyu

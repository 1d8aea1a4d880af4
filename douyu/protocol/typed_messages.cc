#include "douyu/protocol/typed_messages.h"

#include <algorithm>
#include <array>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include "douyu/protocol/typed_fields.h"

namespace asyncore::douyu {

// Every view is one walk over the fields through its type's table (typed_fields.h).
ChatMsg ChatMsg::from(const Message& m) { return fill<ChatMsg>(m); }
UserEnter UserEnter::from(const Message& m) { return fill<UserEnter>(m); }
Gift Gift::from(const Message& m) { return fill<Gift>(m); }
GiftBroadcast GiftBroadcast::from(const Message& m) { return fill<GiftBroadcast>(m); }
RoomStatus RoomStatus::from(const Message& m) { return fill<RoomStatus>(m); }
BuyDeserve BuyDeserve::from(const Message& m) { return fill<BuyDeserve>(m); }
SuperBarrage SuperBarrage::from(const Message& m) { return fill<SuperBarrage>(m); }
NobleOpen NobleOpen::from(const Message& m) { return fill<NobleOpen>(m); }
NobleRenew NobleRenew::from(const Message& m) { return fill<NobleRenew>(m); }
BadgeUp BadgeUp::from(const Message& m) { return fill<BadgeUp>(m); }
LevelUp LevelUp::from(const Message& m) { return fill<LevelUp>(m); }
LoginResponse LoginResponse::from(const Message& m) { return fill<LoginResponse>(m); }
ServerError ServerError::from(const Message& m) { return fill<ServerError>(m); }
PingRequest PingRequest::from(const Message& m) { return fill<PingRequest>(m); }

bool RankList::is_rank_type(std::string_view type) {
  return type == "noble_num_info" || type == "frank" || type == "fswrank" || type == "ranklist";
}

size_t RankList::entry_count() const {
  // Items end at each '/' (an item's own '/' are escaped); a last item without its '/' counts
  // when not empty (stt_decode_list's rule).
  const size_t slashes = static_cast<size_t>(std::count(list_text.begin(), list_text.end(), '/'));
  return slashes + (!list_text.empty() && list_text.back() != '/' ? 1 : 0);
}

RankList RankList::from(const Message& m) {
  RankList r = fill<RankList>(m);
  r.type = m.type();
  return r;
}

namespace {

// view()'s type → view table: one hashed lookup of type() instead of a chain of compares.
using Viewer = TypedMessage (*)(const Message&);
// Filled in place in the variant (no copy of the view out of a from()).
template <class T>
TypedMessage make_view(const Message& m) {
  if constexpr (std::is_same_v<T, RankList> || std::is_same_v<T, Heartbeat>) {  // type / none
    return T::from(m);
  } else {
    TypedMessage v(std::in_place_type<T>);
    fill_into(*std::get_if<T>(&v), m);
    return v;
  }
}
struct TypeEntry {
  std::string_view type;
  Viewer viewer;
};
constexpr std::array kTypes{
    TypeEntry{ChatMsg::kType, &make_view<ChatMsg>},
    TypeEntry{UserEnter::kType, &make_view<UserEnter>},
    TypeEntry{Gift::kType, &make_view<Gift>},
    TypeEntry{GiftBroadcast::kType, &make_view<GiftBroadcast>},
    TypeEntry{RoomStatus::kType, &make_view<RoomStatus>},
    TypeEntry{BuyDeserve::kType, &make_view<BuyDeserve>},
    TypeEntry{SuperBarrage::kType, &make_view<SuperBarrage>},
    TypeEntry{NobleOpen::kType, &make_view<NobleOpen>},
    TypeEntry{NobleRenew::kType, &make_view<NobleRenew>},
    TypeEntry{BadgeUp::kType, &make_view<BadgeUp>},
    TypeEntry{LevelUp::kType, &make_view<LevelUp>},
    TypeEntry{LoginResponse::kType, &make_view<LoginResponse>},
    TypeEntry{ServerError::kType, &make_view<ServerError>},
    TypeEntry{PingRequest::kType, &make_view<PingRequest>},
    TypeEntry{Heartbeat::kType, &make_view<Heartbeat>},
    // RankList::is_rank_type's types.
    TypeEntry{"noble_num_info", &make_view<RankList>},
    TypeEntry{"frank", &make_view<RankList>},
    TypeEntry{"fswrank", &make_view<RankList>},
    TypeEntry{"ranklist", &make_view<RankList>},
};
consteval std::array<std::string_view, kTypes.size()> type_names() {
  std::array<std::string_view, kTypes.size()> names{};
  for (size_t i = 0; i < kTypes.size(); ++i) names[i] = kTypes[i].type;
  return names;
}
constexpr KeyIndex<kTypes.size()> kTypeIndex{type_names()};

}  // namespace

TypedMessage view(const Message& m) {
  const int at = kTypeIndex.find(m.type());
  return at < 0 ? TypedMessage(GenericMessage{&m}) : kTypes[static_cast<size_t>(at)].viewer(m);
}

}  // namespace asyncore::douyu

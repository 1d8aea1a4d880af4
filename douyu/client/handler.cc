#include "douyu/client/handler.h"

#include <type_traits>

namespace asyncore::douyu {

void DouyuHandler::dispatch(const Message& m) {
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, ChatMsg>) {
          on_chat(v, m);
        } else if constexpr (std::is_same_v<T, Gift>) {
          on_gift(v, m);
        } else if constexpr (std::is_same_v<T, GiftBroadcast>) {
          on_gift_broadcast(v, m);
        } else if constexpr (std::is_same_v<T, UserEnter>) {
          on_user_enter(v, m);
        } else if constexpr (std::is_same_v<T, RoomStatus>) {
          on_room_status(v, m);
        } else if constexpr (std::is_same_v<T, RankList>) {
          on_rank_list(v, m);
        } else if constexpr (std::is_same_v<T, LoginResponse>) {
          on_login(v, m);
        } else if constexpr (std::is_same_v<T, ServerError>) {
          on_server_error(v, m);
        } else if constexpr (std::is_same_v<T, Heartbeat>) {
          on_heartbeat(m);
        } else {
          on_other(m);
        }
      },
      view(m));
}

}  // namespace asyncore::douyu

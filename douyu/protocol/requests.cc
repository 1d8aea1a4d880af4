#include "douyu/protocol/requests.h"

#include "douyu/protocol/stt.h"

namespace asyncore::douyu {

std::string loginreq_body(std::string_view room_id) {
  return std::move(SttWriter().add("type", "loginreq").add("roomid", room_id)).str();
}

std::string joingroup_body(std::string_view room_id, int64_t group_id) {
  return std::move(SttWriter().add("type", "joingroup").add("rid", room_id).add("gid", group_id))
      .str();
}

std::string mrkl_body() { return "type@=mrkl/"; }

std::string keeplive_body(int64_t tick_unix_seconds) {
  return std::move(SttWriter().add("type", "keeplive").add("tick", tick_unix_seconds)).str();
}

std::string logout_body() { return "type@=logout/"; }

Packet loginreq(std::string_view room_id) { return Packet(loginreq_body(room_id)); }
Packet loginreq(int64_t room_id) { return loginreq(std::to_string(room_id)); }
Packet joingroup(std::string_view room_id, int64_t group_id) {
  return Packet(joingroup_body(room_id, group_id));
}
Packet joingroup(int64_t room_id, int64_t group_id) {
  return joingroup(std::to_string(room_id), group_id);
}
Packet mrkl() { return Packet(mrkl_body()); }
Packet keeplive(int64_t tick_unix_seconds) { return Packet(keeplive_body(tick_unix_seconds)); }
Packet logout() { return Packet(logout_body()); }

}  // namespace asyncore::douyu

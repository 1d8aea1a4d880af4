// Builders of the client → server requests of the session (PROTOCOL.md §3), as Packets (type
// 689) ready to queue, or as bare STT bodies (the *_body functions) for tests and the simulator.
//
//   loginreq(9999).bytes()   == "\x25\0\0\0\x25\0\0\0\xb1\x02\0\0type@=loginreq/roomid@=9999/\0"
//   joingroup(9999)          // type@=joingroup/rid@=9999/gid@=-9999/
//   mrkl()                   // type@=mrkl/                       (heartbeat, every 45 s)
//   keeplive(unix_seconds)   // type@=keeplive/tick@=<s>/          (older heartbeat)
//   logout()                 // type@=logout/
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "douyu/protocol/packet.h"

namespace asyncore::douyu {

// Group -9999: "massive barrage" mode, every message; recommended for third parties.
inline constexpr int64_t kMassiveBarrageGroup = -9999;
// Seconds between heartbeats the server expects.
inline constexpr int kHeartbeatIntervalSeconds = 45;

std::string loginreq_body(std::string_view room_id);
std::string joingroup_body(std::string_view room_id, int64_t group_id = kMassiveBarrageGroup);
std::string mrkl_body();
std::string keeplive_body(int64_t tick_unix_seconds);
std::string logout_body();

Packet loginreq(std::string_view room_id);
Packet loginreq(int64_t room_id);
Packet joingroup(std::string_view room_id, int64_t group_id = kMassiveBarrageGroup);
Packet joingroup(int64_t room_id, int64_t group_id = kMassiveBarrageGroup);
Packet mrkl();
Packet keeplive(int64_t tick_unix_seconds);
Packet logout();

}  // namespace asyncore::douyu

// room_id.h — a Douyu room id from what people paste: "9999", or the room page's URL
// ("https://www.douyu.com/9999", "douyu.com/9999?...", "www.douyu.com/topic/xyz?rid=9999",
// "https://m.douyu.com/9999"). Pure code: no network.
//
// The wire protocol (loginreq, joingroup) needs the numeric id. A room's vanity name
// ("douyu.com/xiaozhi") is resolved only by Douyu's web page, so it is refused with a message that
// says where the number is.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace asyncore::douyu {

// The longest id accepted: 18 digits always fit an int64 (ids are far shorter in practice).
inline constexpr size_t kMaxRoomIdDigits = 18;

// The canonical numeric id ("007" is room "7"), or nullopt with *error (when non-null) saying
// what is wrong and, for a vanity name, where to find the number. A URL's rid=N query parameter
// wins over its path; the host must be douyu.com or a subdomain of it.
std::optional<std::string> parse_room_id(std::string_view text, std::string* error);

}  // namespace asyncore::douyu

// format.h — how douyu_danmaku prints one message: a readable line for people (text), or one
// JSON object (jsonl, the protocol layer's encoding).
#pragma once

#include <string>
#include <string_view>

#include "douyu/message.h"

namespace danmaku {

// One line (with '\n') for people. Chat: "[room] <lv N> nickname: text"; gifts, enters, live
// status, broadcasts and rank lists get their own shapes; any other type "[room] type k=v ...".
// `color`: ANSI colours (nickname by level, text by the chat colour field).
std::string format_text(std::string_view room, const asyncore::douyu::Message& message, bool color);

// One JSON object per line (with '\n'): every top-level field as a string, in wire order.
std::string format_jsonl(const asyncore::douyu::Message& message);

}  // namespace danmaku

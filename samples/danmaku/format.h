// format.h — how douyu_danmaku prints one message: a readable line for people (text), or one
// JSON object (jsonl, the protocol layer's encoding).
#pragma once

#include <string>
#include <string_view>

#include "douyu/protocol/message.h"

namespace danmaku {

// One line (with '\n') for people. Chat: "[room] <lv N> nickname: text"; gifts, enters, live
// status, broadcasts and rank lists get their own shapes; any other type "[room] type k=v ...".
// `color`: ANSI colours (nickname by level, text by the chat colour field).
// Nothing from the wire reaches the terminal as a control: every key and value goes through
// append_sanitized(); the only escape sequences in a line are the CLI's own colours.
// A repeated key counts once, with its first value (as Message::get and the JSON lines).
std::string format_text(std::string_view room, const asyncore::douyu::Message& message, bool color);

// Appends wire text made safe for a terminal: '\n', '\r', '\t' become spaces; other C0
// controls, DEL and C1 controls (U+0080..U+009F) become visible "\x1b"-style escapes; bidi
// overrides and isolates (U+202A..U+202E, U+2066..U+2069) become "\u202e"; ill-formed UTF-8
// becomes U+FFFD. Everything else (all printable Unicode) is kept as it is.
void append_sanitized(std::string& out, std::string_view text);

// One JSON object per line (with '\n'): every top-level field as a string, in wire order.
std::string format_jsonl(const asyncore::douyu::Message& message);
// The same line appended to `out` (no allocation once `out` has grown: the printing path).
void append_jsonl(std::string& out, const asyncore::douyu::Message& message);

}  // namespace danmaku

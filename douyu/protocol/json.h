// JSON encoding of decoded messages, for logs, the CLI and pipes to other tools.
//
// A Message becomes ONE object whose members are its top-level fields in wire order, each value a
// JSON string (nested values stay their STT text):
//   {"type":"chatmsg","rid":"9999","txt":"你好 \"hi\"\n"}
// A key repeated on the wire appears ONCE, with its FIRST value — the rule of Message::get, hence
// of type(), the typed views and douyu_danmaku's --types — because JSON readers disagree on
// repeated names (jq and Python keep the last): "type@=uenter/type@=chatmsg/" is {"type":"uenter"}.
// Names are compared as written in JSON, so two ill-formed keys that both become "\uFFFD" also
// count as one (an object never repeats a name).
// The output is valid JSON (and valid UTF-8) for every input: quotes, backslashes and control
// characters are escaped; every ill-formed UTF-8 sequence becomes U+FFFD (one per maximal
// ill-formed subpart, as Unicode recommends). What a terminal would obey — C0 controls, DEL, C1
// controls U+0080..U+009F and the bidi overrides U+202A..U+202E, U+2066..U+2069 — is written as
// \uXXXX, so a JSON line is also safe to print.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "douyu/protocol/message.h"
#include "douyu/protocol/stt_value.h"

namespace asyncore::douyu {

// Appends `text` as a JSON string literal (with its quotes) to `out`.
void json_append_string(std::string& out, std::string_view text);
std::string json_quote(std::string_view text);

// Length of the well-formed UTF-8 sequence at text[i] (1 for ASCII), or 0 if ill-formed; on 0,
// `*skip` is the length of the maximal ill-formed subpart (at least 1), to replace by one U+FFFD.
size_t utf8_sequence_length(std::string_view text, size_t i, size_t* skip);
// The code point of the well-formed sequence text[i, i + len) when a terminal could obey it (C0,
// DEL, C1, bidi override/isolate); nullopt for harmless text.
std::optional<uint32_t> terminal_control_at(std::string_view text, size_t i, size_t len);

std::string to_json(const Message& message);
void json_append_message(std::string& out, const Message& message);

// A tree: strings as JSON strings, lists as arrays, maps as objects (wire order, duplicates kept).
std::string to_json(const SttValue& value);

}  // namespace asyncore::douyu

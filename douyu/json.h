// JSON encoding of decoded messages, for logs, the CLI and pipes to other tools.
//
// A Message becomes ONE object whose members are its top-level fields in wire order, each value a
// JSON string (duplicates kept — JSON permits repeated names; nested values stay their STT text):
//   {"type":"chatmsg","rid":"9999","txt":"你好 \"hi\"\n"}
// The output is valid JSON (and valid UTF-8) for every input: quotes, backslashes and control
// characters are escaped; every ill-formed UTF-8 sequence becomes U+FFFD (one per maximal
// ill-formed subpart, as Unicode recommends).
#pragma once

#include <string>
#include <string_view>

#include "douyu/message.h"
#include "douyu/stt_value.h"

namespace asyncore::douyu {

// Appends `text` as a JSON string literal (with its quotes) to `out`.
void json_append_string(std::string& out, std::string_view text);
std::string json_quote(std::string_view text);

std::string to_json(const Message& message);
void json_append_message(std::string& out, const Message& message);

// A tree: strings as JSON strings, lists as arrays, maps as objects (wire order, duplicates kept).
std::string to_json(const SttValue& value);

}  // namespace asyncore::douyu

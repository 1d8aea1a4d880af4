// Fuzzes the JSON encoding. Properties: for every input the output is valid JSON in valid UTF-8;
// a well-formed UTF-8 string decodes back from its JSON unchanged; no terminal control (C0, DEL,
// C1, bidi override) appears raw; a Message's JSON is a flat object with one member per distinct
// key, in order of first occurrence, each with its first value (Message::get's rule).
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "douyu/protocol/json.h"
#include "douyu/protocol/message.h"
#include "fuzz/fuzz_check.h"
#include "tests/douyu/json_validator.h"

using namespace asyncore::douyu;
using asyncore::douyu::testing::JsonValidator;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);

  const std::string quoted = json_quote(in);
  JsonValidator v(quoted);
  FUZZ_CHECK(v.validate());
  if (JsonValidator::valid_utf8(in)) {
    FUZZ_CHECK(JsonValidator::string_literal(quoted) == in);
  }

  for (size_t i = 0; i < quoted.size(); ++i) {
    const auto c = static_cast<unsigned char>(quoted[i]);
    FUZZ_CHECK(c >= 0x20 && c != 0x7F);
    FUZZ_CHECK(
        !(c == 0xC2 && i + 1 < quoted.size() && static_cast<unsigned char>(quoted[i + 1]) <= 0x9F));
  }

  const Message m(in);
  const auto members = JsonValidator::flat_object(to_json(m));
  FUZZ_CHECK(members.has_value());
  FUZZ_CHECK(members->size() <= m.size());
  std::set<std::string> names;
  for (const auto& member : *members) FUZZ_CHECK(names.insert(member.first).second);
  // Fields with well-formed UTF-8 keys: the member of that name holds the first value.
  size_t next = 0;  // members appear in order of first occurrence
  std::set<std::string> seen;
  for (size_t i = 0; i < m.size(); ++i) {
    const std::string key(m.key(i));
    const bool first =
        seen.insert(JsonValidator::string_literal(json_quote(key)).value_or("")).second;
    if (!first) continue;
    FUZZ_CHECK(next < members->size());
    const auto& [name, value] = (*members)[next++];
    if (JsonValidator::valid_utf8(key)) {
      FUZZ_CHECK(name == key);
      FUZZ_CHECK(m.get(key).has_value());
      if (JsonValidator::valid_utf8(*m.get(key))) FUZZ_CHECK(value == *m.get(key));
    }
  }
  FUZZ_CHECK(next == members->size());
  return 0;
}

// Fuzzes the JSON encoding. Properties: for every input the output is valid JSON in valid UTF-8;
// a well-formed UTF-8 string decodes back from its JSON unchanged; a Message's JSON is a flat
// object with one member per field, in order.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "douyu/json.h"
#include "douyu/message.h"
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

  const Message m(in);
  const auto members = JsonValidator::flat_object(to_json(m));
  FUZZ_CHECK(members.has_value());
  FUZZ_CHECK(members->size() == m.size());
  for (size_t i = 0; i < m.size(); ++i) {
    if (JsonValidator::valid_utf8(m.key(i))) FUZZ_CHECK((*members)[i].first == m.key(i));
    if (JsonValidator::valid_utf8(m.value(i))) FUZZ_CHECK((*members)[i].second == m.value(i));
  }
  return 0;
}

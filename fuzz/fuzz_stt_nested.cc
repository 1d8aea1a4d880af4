// Fuzzes on-demand nested decoding. Properties: never crashes (depth is bounded); a tree decoded by
// guess re-encodes to a text that decodes by guess to the same tree; one-level map/list decoding
// re-encodes to text that decodes to the same one-level values; the JSON of the tree is valid.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "douyu/protocol/json.h"
#include "douyu/protocol/stt_value.h"
#include "fuzz/fuzz_check.h"
#include "tests/douyu/json_validator.h"

using namespace asyncore::douyu;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const int depth = 1 + data[0] % 12;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);

  const SttValue tree = stt_decode_value(in, depth);
  FUZZ_CHECK(stt_decode_value(stt_encode(tree), depth) == tree);
  asyncore::douyu::testing::JsonValidator json(to_json(tree));
  FUZZ_CHECK(json.validate());

  const SttValue::Map map = stt_decode_map(in);
  FUZZ_CHECK(stt_decode_map(stt_encode(SttValue(map))) == map);
  const SttValue::List list = stt_decode_list(in);
  FUZZ_CHECK(stt_decode_list(stt_encode(SttValue(list))) == list);
  const auto maps = stt_decode_map_list(in);
  FUZZ_CHECK(maps.size() == list.size());
  return 0;
}

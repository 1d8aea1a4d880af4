// Inputs the fuzzers (fuzz/) found or that once broke an invariant they check; each stays a test.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "douyu/protocol/frame_decoder.h"
#include "douyu/protocol/json.h"
#include "douyu/protocol/message.h"
#include "douyu/protocol/stt.h"
#include "douyu/protocol/stt_value.h"
#include "tests/douyu/json_validator.h"

namespace asyncore::douyu {
namespace {

// The invariants of fuzz/fuzz_stt_decode.cc and fuzz/fuzz_stt_nested.cc, for one input.
void check_stt_invariants(const std::string& input) {
  const Message m(input);
  const Message again(m.encode());
  ASSERT_EQ(again.size(), m.size()) << input;
  for (size_t i = 0; i < m.size(); ++i) {
    EXPECT_EQ(again.key(i), m.key(i));
    EXPECT_EQ(again.value(i), m.value(i));
  }
  const SttValue v = stt_decode_value(input, 8);
  EXPECT_EQ(stt_decode_value(stt_encode(v), 8), v) << input;
  testing::JsonValidator j(to_json(m));
  EXPECT_TRUE(j.validate()) << j.error();
  EXPECT_EQ(stt_unescape(stt_escape(input)), input);
}

TEST(FuzzRegressionTest, SttInputs) {
  const std::vector<std::string> inputs = {
      "",
      "@",
      "@=",
      "/@=/",
      "@@=@@",
      "a@=b@=c",
      "@A@S@",
      "x@A=y/",
      "/////",
      "a@=@S/",
      std::string("\0@=\xff/", 5),
      "k@=v@S/@A/",
      "@=@=/@=/",
  };
  for (const std::string& in : inputs) check_stt_invariants(in);
}

}  // namespace
}  // namespace asyncore::douyu

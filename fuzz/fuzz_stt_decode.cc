// Fuzzes top-level STT decoding (stt_scan_fields, Message) and escaping. Properties: never
// crashes; the scanner's escape flags are exact; Message values are the one-pass unescape of the
// raw values; re-encoding a Message and decoding it again gives the same fields; escape then
// unescape is the identity; unescape in place equals unescape to a copy.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "douyu/protocol/message.h"
#include "douyu/protocol/stt.h"
#include "fuzz/fuzz_check.h"

using namespace asyncore::douyu;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);

  std::vector<RawField> raw;
  stt_scan_fields(in, raw);
  size_t covered = 0;
  for (const RawField& f : raw) {
    FUZZ_CHECK(f.value_begin + f.value_size <= in.size());
    FUZZ_CHECK(f.key_begin + f.key_size <= in.size());
    FUZZ_CHECK(f.key_escaped() == (f.raw_key(in).find('@') != std::string_view::npos));
    FUZZ_CHECK(f.value_escaped() == (f.raw_value(in).find('@') != std::string_view::npos));
    FUZZ_CHECK(f.raw_key(in).find('/') == std::string_view::npos);
    FUZZ_CHECK(f.raw_value(in).find('/') == std::string_view::npos);
    FUZZ_CHECK(f.key_begin >= covered);
    covered = f.value_begin + f.value_size;
  }

  const Message m(in);
  FUZZ_CHECK(m.size() == raw.size());
  for (size_t i = 0; i < m.size(); ++i) {
    FUZZ_CHECK(m.key(i) == stt_unescape(raw[i].raw_key(in)));
    FUZZ_CHECK(m.value(i) == stt_unescape(raw[i].raw_value(in)));
  }
  const Message again(m.encode());
  FUZZ_CHECK(again.size() == m.size());
  for (size_t i = 0; i < m.size(); ++i) {
    FUZZ_CHECK(again.key(i) == m.key(i));
    FUZZ_CHECK(again.value(i) == m.value(i));
  }
  FUZZ_CHECK(again.type() == m.type());

  FUZZ_CHECK(stt_unescape(stt_escape(in)) == in);
  std::string copy = in;
  copy.resize(stt_unescape_in_place(copy.data(), copy.size()));
  FUZZ_CHECK(copy == stt_unescape(in));

  std::vector<RawField> items;
  stt_scan_items(in, items);
  for (const RawField& f : items) {
    FUZZ_CHECK(f.key_size == 0);
    FUZZ_CHECK(f.value_escaped() == (f.raw_value(in).find('@') != std::string_view::npos));
  }
  return 0;
}

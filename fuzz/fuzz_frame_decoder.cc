// Fuzzes FrameDecoder: any bytes, any split. Properties: never crashes; the frames and the error
// are the same whatever the split (whole, random chunks, one byte at a time); frames are contiguous
// and well-formed; the partial buffer never exceeds max_length + 4; nothing after an error.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "douyu/protocol/frame_decoder.h"
#include "fuzz/fuzz_check.h"

using namespace asyncore::douyu;

namespace {

struct Result {
  std::vector<Frame> frames;
  bool ok = true;
  FrameError error = FrameError::kNone;
  std::string message;
};

Result run(std::string_view data, const FrameDecoderOptions& options, uint32_t chunk_seed) {
  FrameDecoder d(options);
  Result r;
  uint32_t x = chunk_seed | 1;
  size_t at = 0;
  while (at < data.size()) {
    size_t chunk = data.size() - at;
    if (chunk_seed != 0) {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      chunk = std::min(chunk, static_cast<size_t>(1 + x % (chunk_seed == 1 ? 1 : 64)));
    }
    const size_t before = r.frames.size();
    const bool ok = d.feed(data.substr(at, chunk), r.frames);
    FUZZ_CHECK(d.buffered() <= static_cast<size_t>(options.max_length) + 4);
    if (!r.ok) FUZZ_CHECK(r.frames.size() == before && !ok);  // sticky error: nothing more
    r.ok = r.ok && ok;
    at += chunk;
  }
  r.error = d.error();
  r.message = d.error_message();
  FUZZ_CHECK(r.ok == (r.error == FrameError::kNone));
  FUZZ_CHECK(r.ok == r.message.empty());
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  FrameDecoderOptions options;
  options.strict = (data[0] & 1) != 0;
  if (data[0] & 2) options.expected_type = (data[0] & 4) ? kServerToClient : kClientToServer;
  options.max_length = (data[0] & 8) ? 64 + data[1] : kDefaultMaxLength;
  const std::string_view in(reinterpret_cast<const char*>(data) + 2, size - 2);

  const Result whole = run(in, options, 0);
  uint64_t offset = 0;
  for (const Frame& f : whole.frames) {
    FUZZ_CHECK(f.offset == offset);
    FUZZ_CHECK(f.type == kClientToServer || f.type == kServerToClient);
    FUZZ_CHECK(f.body.size() + 9 <= options.max_length);
    // The wire image of the frame is exactly the input bytes at its offset.
    std::string wire;
    append_frame(wire, f.body, f.type);
    FUZZ_CHECK(in.substr(offset, wire.size()) == wire || !options.strict);
    offset += wire.size();
  }
  for (uint32_t seed : {1u, static_cast<uint32_t>(data[1]) + 2}) {
    const Result split = run(in, options, seed);
    FUZZ_CHECK(split.ok == whole.ok);
    FUZZ_CHECK(split.error == whole.error);
    FUZZ_CHECK(split.message == whole.message);
    FUZZ_CHECK(split.frames.size() == whole.frames.size());
    for (size_t i = 0; i < whole.frames.size(); ++i) {
      FUZZ_CHECK(split.frames[i].body == whole.frames[i].body);
      FUZZ_CHECK(split.frames[i].offset == whole.frames[i].offset);
    }
  }
  return 0;
}

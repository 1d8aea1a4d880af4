// Douyu wire protocol micro benchmarks on a realistic synthetic room (douyu/synthetic.h): chat
// with CJK/emoji text, enters, gift combos, broadcasts, nested ranking lists. Reports MB/s
// (bytes of frames or bodies) and messages/s (items). Results: docs/PROTOCOL_IMPL.md.
//
//   build-proto/bin/bench_protocol --benchmark_min_time=1
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "douyu/frame_decoder.h"
#include "douyu/json.h"
#include "douyu/message.h"
#include "douyu/stt.h"
#include "douyu/synthetic.h"
#include "douyu/typed_messages.h"

namespace asyncore::douyu {
namespace {

constexpr size_t kMessages = 20000;

const std::string& stream() {
  static const std::string s = [] {
    std::string out;
    SyntheticRoom room(1);
    room.append_frames(out, kMessages);
    return out;
  }();
  return s;
}

const std::vector<std::string>& bodies() {
  static const std::vector<std::string> b = [] {
    std::vector<std::string> out;
    FrameDecoder d;
    d.feed(stream(), [&](const FrameView& f) { out.emplace_back(f.body); });
    return out;
  }();
  return b;
}

size_t body_bytes() {
  size_t n = 0;
  for (const auto& b : bodies()) n += b.size();
  return n;
}

// Frames straight out of one big slice: the zero-copy path.
void BM_FrameDecodeWhole(benchmark::State& state) {
  const std::string& s = stream();
  size_t frames = 0;
  for (auto _ : state) {
    FrameDecoder d;
    d.feed(s, [&](const FrameView& f) {
      benchmark::DoNotOptimize(f.body.data());
      ++frames;
    });
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * s.size()));
  state.SetItemsProcessed(static_cast<int64_t>(frames));
}
BENCHMARK(BM_FrameDecodeWhole);

// Frames from reads of N bytes, as a socket delivers them (frames split across reads).
void BM_FrameDecodeChunks(benchmark::State& state) {
  const std::string& s = stream();
  const size_t chunk = static_cast<size_t>(state.range(0));
  size_t frames = 0;
  for (auto _ : state) {
    FrameDecoder d;
    for (size_t at = 0; at < s.size(); at += chunk) {
      d.feed(std::string_view(s).substr(at, chunk), [&](const FrameView& f) {
        benchmark::DoNotOptimize(f.body.data());
        ++frames;
      });
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * s.size()));
  state.SetItemsProcessed(static_cast<int64_t>(frames));
}
BENCHMARK(BM_FrameDecodeChunks)->Arg(1500)->Arg(4096)->Arg(65536);

// Top-level STT decode: raw fields (offsets + needs-unescape flags) into a reused vector.
// Allocation-free.
void BM_SttDecodeTopLevel(benchmark::State& state) {
  const auto& b = bodies();
  std::vector<RawField> fields;
  fields.reserve(256);
  size_t n = 0;
  for (auto _ : state) {
    for (const std::string& body : b) {
      fields.clear();
      stt_scan_fields(body, fields);
      benchmark::DoNotOptimize(fields.data());
      n += fields.size();
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body_bytes()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * b.size()));
  state.counters["fields/msg"] = static_cast<double>(n) / (state.iterations() * b.size());
}
BENCHMARK(BM_SttDecodeTopLevel);

// Message: copy the body (as the loop thread does for the worker), scan, unescape in place.
void BM_MessageDecode(benchmark::State& state) {
  const auto& b = bodies();
  for (auto _ : state) {
    for (const std::string& body : b) {
      Message m{std::string(body)};
      benchmark::DoNotOptimize(m.type().data());
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body_bytes()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * b.size()));
}
BENCHMARK(BM_MessageDecode);

// The receive path end to end: frames in 4 KiB reads → Message → typed view.
void BM_PipelineFramesToTypedViews(benchmark::State& state) {
  const std::string& s = stream();
  size_t frames = 0;
  for (auto _ : state) {
    FrameDecoder d;
    for (size_t at = 0; at < s.size(); at += 4096) {
      d.feed(std::string_view(s).substr(at, 4096), [&](const FrameView& f) {
        Message m = Message::from_view(f);
        TypedMessage t = view(m);
        benchmark::DoNotOptimize(t.index());
        ++frames;
      });
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * s.size()));
  state.SetItemsProcessed(static_cast<int64_t>(frames));
}
BENCHMARK(BM_PipelineFramesToTypedViews);

// JSON encoding of decoded messages.
void BM_JsonEncode(benchmark::State& state) {
  std::vector<Message> msgs;
  for (const std::string& body : bodies()) msgs.emplace_back(body);
  std::string out;
  for (auto _ : state) {
    for (const Message& m : msgs) {
      out.clear();
      json_append_message(out, m);
      benchmark::DoNotOptimize(out.data());
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body_bytes()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * msgs.size()));
}
BENCHMARK(BM_JsonEncode);

// Encoding: the synthetic generator itself (what the simulator server spends per message).
void BM_SyntheticEncode(benchmark::State& state) {
  SyntheticRoom room(5);
  size_t bytes = 0;
  for (auto _ : state) {
    std::string b = room.next_body();
    bytes += b.size();
    benchmark::DoNotOptimize(b.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_SyntheticEncode);

}  // namespace
}  // namespace asyncore::douyu

BENCHMARK_MAIN();

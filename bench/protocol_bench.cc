// Douyu wire protocol micro benchmarks on a realistic synthetic room (douyu/simulator/synthetic.h):
// chat with CJK/emoji text, enters, gift combos, broadcasts, nested ranking lists. Reports MB/s
// (bytes of frames or bodies) and messages/s (items). Results: docs/PROTOCOL_IMPL.md.
//
//   build-proto/bin/bench_protocol --benchmark_min_time=1
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "douyu/protocol/frame_batch.h"
#include "douyu/protocol/frame_decoder.h"
#include "douyu/protocol/json.h"
#include "douyu/protocol/message.h"
#include "douyu/protocol/stt.h"
#include "douyu/protocol/typed_fields.h"
#include "douyu/protocol/typed_messages.h"
#include "douyu/simulator/synthetic.h"
#include "tests/douyu/json_reference.h"

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

// Top-level STT decode: raw fields (offsets + needs-unescape flags) into a reused vector, and
// into a reused RawFieldBuffer as the read path (FrameBatch) scans: written in place.
// Allocation-free.
template <class Fields>
void BM_SttDecodeTopLevel(benchmark::State& state) {
  const auto& b = bodies();
  Fields fields;
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
BENCHMARK_TEMPLATE(BM_SttDecodeTopLevel, std::vector<RawField>);
BENCHMARK_TEMPLATE(BM_SttDecodeTopLevel, RawFieldBuffer);

// The client's read path on one thread, without the sockets: the stream in 64 KiB reads, each
// split into a FrameBatch and scanned (DouyuClient::handle_read's work), then every frame lent to
// one Message and its type read (MessageWorker's), the batch recycled. Its time per message is
// the two threads' decoding work together.
void BM_ReadPathDecode(benchmark::State& state) {
  const std::string& s = stream();
  constexpr size_t kRead = 64 * 1024;
  FrameDecoder decoder;
  FrameBatch batch;
  Message m;
  for (auto _ : state) {
    for (size_t at = 0; at < s.size(); at += kRead) {
      const std::string_view chunk = std::string_view(s).substr(at, kRead);
      batch.reserve(chunk.size() + decoder.buffered(), chunk.size() / 64);
      decoder.feed(chunk, [&](const FrameView& f) { batch.add(f.body); });
      for (size_t i = 0; i < batch.size(); ++i) {
        batch.lend(i, m);
        benchmark::DoNotOptimize(m.type().data());
      }
      batch.recycle(SIZE_MAX);
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * s.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kMessages));
}
BENCHMARK(BM_ReadPathDecode);

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

// The worker thread's decoding: every body into one reused Message (no allocation once warm).
void BM_MessageAssign(benchmark::State& state) {
  const auto& b = bodies();
  Message m;
  for (auto _ : state) {
    for (const std::string& body : b) {
      m.assign(body);
      benchmark::DoNotOptimize(m.type().data());
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body_bytes()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * b.size()));
}
BENCHMARK(BM_MessageAssign);

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

// --- Typed views: the one-pass table fill (typed_fields.h) against what it replaced ---
//
// kGets: the old typed_messages.cc — one linear Message::get / get_int per member (O(fields x
// members)) and a chain of type compares. kLinear: one walk over the fields, each key looked up by
// a linear scan of the type's table (length compared first). kHashed: the library's view() (one
// walk, perfect-hash lookup of each key and of the type). Rank lists use RankList::from in all
// three (their cost is the nested list).
struct GetsFill {
  template <class T>
  static T fill(const Message& m) {
    T out{};
    for (const TypedMember<T>& member : TypedFields<T>::kMembers) {
      set_member(out, member, m.get_or(member.key));  // = get_or / get_int_or(key, 0)
    }
    return out;
  }
};

struct LinearFill {
  template <class T>
  static T fill(const Message& m) {
    constexpr auto& members = TypedFields<T>::kMembers;
    constexpr uint32_t kAll = (uint32_t{1} << members.size()) - 1;
    T out{};
    uint32_t seen = 0;
    for (size_t i = 0, n = m.size(); i < n; ++i) {
      const std::string_view k = m.key(i);
      for (size_t at = 0; at < members.size(); ++at) {
        if (members[at].key.size() != k.size() || members[at].key != k) continue;
        if (((seen >> at) & 1u) == 0) {
          seen |= uint32_t{1} << at;
          set_member(out, members[at], m.value(i));
        }
        break;
      }
      if (seen == kAll) break;
    }
    return out;
  }
};

template <class Fill>
TypedMessage view_by_chain(const Message& m) {
  const std::string_view t = m.type();
  if (t == ChatMsg::kType) return Fill::template fill<ChatMsg>(m);
  if (t == UserEnter::kType) return Fill::template fill<UserEnter>(m);
  if (t == Gift::kType) return Fill::template fill<Gift>(m);
  if (t == GiftBroadcast::kType) return Fill::template fill<GiftBroadcast>(m);
  if (t == RoomStatus::kType) return Fill::template fill<RoomStatus>(m);
  if (t == BuyDeserve::kType) return Fill::template fill<BuyDeserve>(m);
  if (t == SuperBarrage::kType) return Fill::template fill<SuperBarrage>(m);
  if (t == NobleOpen::kType) return Fill::template fill<NobleOpen>(m);
  if (t == NobleRenew::kType) return Fill::template fill<NobleRenew>(m);
  if (t == BadgeUp::kType) return Fill::template fill<BadgeUp>(m);
  if (t == LevelUp::kType) return Fill::template fill<LevelUp>(m);
  if (t == LoginResponse::kType) return Fill::template fill<LoginResponse>(m);
  if (t == ServerError::kType) return Fill::template fill<ServerError>(m);
  if (t == PingRequest::kType) return Fill::template fill<PingRequest>(m);
  if (t == Heartbeat::kType) return Heartbeat{};
  if (RankList::is_rank_type(t)) return RankList::from(m);
  return GenericMessage{&m};
}

enum TypedImpl { kGets, kLinear, kHashed };
enum TypedInput { kChat, kMix };

// 512 decoded messages (~300 KB: in cache, as a message just decoded by the loop thread is).
constexpr size_t kTypedMessages = 512;
const std::vector<Message>& decoded(TypedInput input) {
  static const std::vector<Message> chat = [] {
    std::vector<Message> out;
    SyntheticRoom room(3);
    for (size_t i = 0; i < kTypedMessages; ++i) out.emplace_back(room.chatmsg());
    return out;
  }();
  static const std::vector<Message> mix = [] {
    std::vector<Message> out;
    for (size_t i = 0; i < kTypedMessages; ++i) out.emplace_back(bodies()[i]);
    return out;
  }();
  return input == kChat ? chat : mix;
}

// A typed view of each decoded Message (decoding not included), touching a few fields as a
// consumer would. Args: input (0 chatmsg only, 1 the room's mix), implementation (0 gets,
// 1 one-pass linear table scan, 2 one-pass hashed = the library).
void BM_TypedView(benchmark::State& state) {
  const auto input = static_cast<TypedInput>(state.range(0));
  const auto impl = static_cast<TypedImpl>(state.range(1));
  const std::vector<Message>& msgs = decoded(input);
  uint64_t sum = 0;
  for (auto _ : state) {
    for (const Message& m : msgs) {
      const TypedMessage t = impl == kGets     ? view_by_chain<GetsFill>(m)
                             : impl == kLinear ? view_by_chain<LinearFill>(m)
                                               : view(m);
      if (const ChatMsg* c = std::get_if<ChatMsg>(&t)) {
        sum += c->nn.size() + c->txt.size() + static_cast<uint64_t>(c->level);
      } else {
        sum += t.index();
      }
    }
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * msgs.size()));
  state.SetLabel(std::string(input == kChat ? "chatmsg" : "mix") + "/" +
                 (impl == kGets     ? "gets (before)"
                  : impl == kLinear ? "one-pass linear"
                                    : "one-pass hashed"));
}
BENCHMARK(BM_TypedView)->ArgsProduct({{kChat, kMix}, {kGets, kLinear, kHashed}});

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

// --- JSON lines (issue #13): the encoder against the byte-by-byte one it replaced ---
//
// Arg 0: input (0 chatmsg only, 1 the room's mix); arg 1: encoder (0 the reference, i.e. the
// encoder before #13, tests/douyu/json_reference.h; 1 the library's). Bytes are the JSON written.
enum JsonImpl { kJsonReference, kJsonLibrary };

// The worker thread encodes the Message it has just decoded, in cache: the inputs are 256
// messages (about 150 KB with their fields), encoded over and over.
constexpr size_t kJsonMessages = 256;

const std::vector<Message>& json_input(bool chat_only) {
  static const std::vector<Message> chat = [] {
    std::vector<Message> out;
    SyntheticRoom room(3);
    for (size_t i = 0; i < kJsonMessages; ++i) out.emplace_back(room.chatmsg());
    return out;
  }();
  static const std::vector<Message> mix = [] {
    std::vector<Message> out;
    for (size_t i = 0; i < kJsonMessages; ++i) out.emplace_back(bodies()[i]);
    return out;
  }();
  return chat_only ? chat : mix;
}

void append_json(JsonImpl impl, std::string& out, const Message& m) {
  if (impl == kJsonReference) {
    reference::json_append_message(out, m);
  } else {
    json_append_message(out, m);
  }
}

std::string json_label(bool chat_only, JsonImpl impl) {
  return std::string(chat_only ? "chatmsg" : "mix") + "/" +
         (impl == kJsonReference ? "reference (before)" : "library");
}

// json_append_message of each decoded Message into one reused buffer.
void BM_JsonMessage(benchmark::State& state) {
  const bool chat_only = state.range(0) == 0;
  const auto impl = static_cast<JsonImpl>(state.range(1));
  const std::vector<Message>& msgs = json_input(chat_only);
  std::string out;
  size_t bytes = 0;
  for (auto _ : state) {
    for (const Message& m : msgs) {
      out.clear();
      append_json(impl, out, m);
      bytes += out.size();
      benchmark::DoNotOptimize(out.data());
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * msgs.size()));
  state.SetLabel(json_label(chat_only, impl));
}
BENCHMARK(BM_JsonMessage)->ArgsProduct({{0, 1}, {kJsonReference, kJsonLibrary}});

// douyu_danmaku --output=jsonl's print path without the socket: each message becomes a line
// appended to one batch buffer, written with write(2) at 64 KiB (to a file, over the same 64 KiB
// each time: the page-cache copy without filling the disk). "before" = the reference encoder
// into a new string per line, appended to the batch (what format_jsonl + write_line did).
void BM_JsonLinesToFile(benchmark::State& state) {
  const auto impl = static_cast<JsonImpl>(state.range(0));
  const std::vector<Message>& msgs = json_input(false);
  char path[] = "/tmp/bench_jsonl_XXXXXX";
  const int fd = ::mkstemp(path);
  if (fd < 0) {
    state.SkipWithError("mkstemp");
    return;
  }
  ::unlink(path);
  std::string batch;
  batch.reserve(128 * 1024);
  size_t bytes = 0;
  for (auto _ : state) {
    for (const Message& m : msgs) {
      if (impl == kJsonReference) {
        std::string line;
        reference::json_append_message(line, m);
        line += '\n';
        batch.append(line);
      } else {
        json_append_message(batch, m);
        batch.push_back('\n');
      }
      if (batch.size() >= 64 * 1024) {
        bytes += batch.size();
        if (::pwrite(fd, batch.data(), batch.size(), 0) < 0) state.SkipWithError("pwrite");
        batch.clear();
      }
    }
  }
  ::close(fd);
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * msgs.size()));
  state.SetLabel(impl == kJsonReference ? "reference (before)" : "library");
}
BENCHMARK(BM_JsonLinesToFile)->Arg(kJsonReference)->Arg(kJsonLibrary);

}  // namespace
}  // namespace asyncore::douyu

BENCHMARK_MAIN();

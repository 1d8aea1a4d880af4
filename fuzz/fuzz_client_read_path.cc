// Fuzzes the client's whole read path, bytes in → callbacks out, as DouyuClient::handle_read and
// its worker run it (without the socket and threads, which the fault-injection tests cover):
//   FrameDecoder{1 MiB, type 690, strict} fed the input in fuzzer-chosen pieces (one recv() each)
//   → Message(std::string(body)) per frame, batched, with the loop-side session checks (loginres,
//   error code) → moved into a queue as MessageWorker does → DouyuHandler::dispatch (every typed
//   view, every field touched) → what douyu_danmaku prints: format_jsonl and format_text.
// The same stream also goes through the path DouyuClient takes today for a busy room: bytes
// received straight into a FrameBatch (in place, or copied from elsewhere: fuzzer-chosen),
// FrameDecoder::split() over them, each frame added as a view (decoded now or by the "worker":
// fuzzer-chosen), the partial frame carried over with take_tail(), the batch lent message by
// message; its messages must be those of the first path, byte for byte.
// Properties: never crashes (ASan/UBSan); the messages are the same whatever the split; after a
// decoder error nothing more is delivered; every JSON line is valid JSON in valid UTF-8 with one
// member per distinct key (a repeated key keeps its first value); text lines end with '\n' and
// hold no terminal control byte besides the CLI's own colours.
//
// Input: byte 0 = how the stream is split (0: one piece; else xorshift-chosen piece sizes up to
// 4 × byte 0), the rest is the byte stream the server sends.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "douyu/client/handler.h"
#include "douyu/protocol/frame_batch.h"
#include "douyu/protocol/frame_decoder.h"
#include "douyu/protocol/message.h"
#include "douyu/protocol/stt_value.h"
#include "douyu/protocol/typed_messages.h"
#include "fuzz/fuzz_check.h"
#include "samples/danmaku/format.h"
#include "tests/douyu/json_validator.h"

using namespace asyncore::douyu;
using asyncore::douyu::testing::JsonValidator;

namespace {

// Touches every byte of every field the typed views expose, so a dangling view is an ASan report.
struct TouchingHandler : DouyuHandler {
  size_t sum = 0;
  void touch(std::string_view s) {
    for (char c : s) sum += static_cast<unsigned char>(c);
  }
  void on_chat(const ChatMsg& c, const Message& m) override {
    for (auto s : {c.rid, c.uid, c.nn, c.txt, c.cid, c.ic, c.bnn, c.brid, c.el}) touch(s);
    all(m);
  }
  void on_gift(const Gift& g, const Message& m) override {
    for (auto s : {g.rid, g.uid, g.nn, g.ic, g.bnn}) touch(s);
    all(m);
  }
  void on_user_enter(const UserEnter& u, const Message& m) override {
    for (auto s : {u.rid, u.uid, u.nn, u.ic}) touch(s);
    all(m);
  }
  void on_gift_broadcast(const GiftBroadcast&, const Message& m) override { all(m); }
  void on_room_status(const RoomStatus&, const Message& m) override { all(m); }
  void on_rank_list(const RankList& r, const Message& m) override {
    // Nested values are decoded on demand: ask for them, as a rank-list consumer does; the count
    // made without decoding must agree.
    const auto entries = r.entries();
    FUZZ_CHECK(r.entry_count() == entries.size());
    for (const auto& item : entries) {
      for (const auto& [k, v] : item) {
        touch(k);
        touch(stt_encode(v));
      }
    }
    all(m);
  }
  void on_login(const LoginResponse&, const Message& m) override { all(m); }
  void on_server_error(const ServerError& e, const Message& m) override {
    sum += static_cast<size_t>(e.code);
    all(m);
  }
  void on_heartbeat(const Message& m) override { all(m); }
  void on_other(const Message& m) override { all(m); }
  void all(const Message& m) {
    for (auto f : m.fields()) {
      touch(f.key);
      touch(f.value);
    }
  }
};

// How a run cuts the stream into reads: byte 0 of the input (0: one piece; else xorshift-chosen
// piece sizes up to 4 × byte 0), from a seed of its own per path. next() also gives the
// in-place path its other choices.
struct Reads {
  Reads(uint8_t split, uint32_t seed) : split(split), x(split | seed) {}
  uint32_t next() {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return x;
  }
  size_t piece(size_t left) {
    return split == 0 ? left : std::min(left, static_cast<size_t>(1 + next() % (4u * split)));
  }
  uint8_t split;
  uint32_t x;
};

struct Outcome {
  std::vector<std::string> jsonl;  // one per delivered message, in order
  bool ok = true;
};

Outcome run(std::string_view stream, uint8_t split) {
  FrameDecoder decoder(FrameDecoderOptions{kDefaultMaxLength, kServerToClient, true});
  std::vector<Message> batch;
  std::deque<Message> queue;  // the worker's queue: messages are moved across, as between threads
  TouchingHandler handler;
  Outcome out;
  bool logged_in = false;
  int64_t error_code = 0;
  Reads reads(split, 0x9e3779b9u);
  size_t at = 0;
  while (at < stream.size()) {
    const size_t piece = reads.piece(stream.size() - at);
    const bool ok = decoder.feed(stream.substr(at, piece), [&](const FrameView& frame) {
      FUZZ_CHECK(out.ok);  // nothing after an error
      batch.emplace_back(std::string(frame.body));
      const Message& m = batch.back();
      if (m.type() == LoginResponse::kType) logged_in = true;
      if (m.type() == ServerError::kType) error_code = ServerError::from(m).code;
    });
    FUZZ_CHECK(decoder.buffered() <= kDefaultMaxLength + 4);
    for (Message& m : batch) queue.push_back(std::move(m));
    batch.clear();
    while (!queue.empty()) {
      const Message m = std::move(queue.front());
      queue.pop_front();
      handler.dispatch(m);
      out.jsonl.push_back(danmaku::format_jsonl(m));
      const std::string& line = out.jsonl.back();
      FUZZ_CHECK(!line.empty() && line.back() == '\n');
      const std::string text = danmaku::format_text("9999", m, (split & 1) != 0);
      FUZZ_CHECK(!text.empty() && text.back() == '\n');
      const auto members =
          JsonValidator::flat_object(std::string_view(line).substr(0, line.size() - 1));
      FUZZ_CHECK(members.has_value());
      FUZZ_CHECK(members->size() <= m.size());
      std::set<std::string> names;
      for (const auto& member : *members) FUZZ_CHECK(names.insert(member.first).second);
      if (const auto type = m.get("type"); type && JsonValidator::valid_utf8(*type)) {
        bool found = false;
        for (const auto& [k, v] : *members) {
          if (k != "type") continue;
          FUZZ_CHECK(v == *type);  // the first "type", as --types and the text view use
          found = true;
        }
        FUZZ_CHECK(found);
      }
      // Text: the only control byte is ESC, and only as the start of a colour "\033[...m".
      for (size_t i = 0; i + 1 < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        FUZZ_CHECK(c >= 0x20 || c == 0x1b);
        FUZZ_CHECK(c != 0x7F);
        if (c == 0x1b) FUZZ_CHECK(text[i + 1] == '[');
        FUZZ_CHECK(!(c == 0xC2 && static_cast<unsigned char>(text[i + 1]) <= 0x9F));  // C1
      }
    }
    if (!ok) {
      FUZZ_CHECK(!decoder.error_message().empty());
      out.ok = false;
      break;  // the client closes the connection here
    }
    at += piece;
  }
  (void)logged_in;
  (void)error_code;
  return out;
}

// The zero-copy path, as DouyuClient::handle_read() and MessageWorker::deliver_taken() run it.
// Only the messages (as JSON lines) and the outcome are compared with run()'s.
Outcome run_in_place(std::string_view stream, uint8_t split) {
  FrameDecoder decoder(FrameDecoderOptions{kDefaultMaxLength, kServerToClient, true});
  FrameBatch batch;
  RawFieldBuffer scratch;  // the worker's: the fields of a body decoded on delivery
  std::string tail;
  Outcome out;
  Reads reads(split, 0x85ebca6bu);
  size_t at = 0;
  while (at < stream.size()) {
    const size_t piece = reads.piece(stream.size() - at);
    const uint32_t choice = reads.next();
    if ((choice & 1) != 0) {  // received in place
      char* space = batch.receive_space(piece);
      std::memcpy(space, stream.data() + at, piece);
      batch.received(piece);
    } else {  // read elsewhere, copied in
      batch.received(stream.substr(at, piece));
    }
    const bool decode_now = (choice & 2) != 0;
    size_t consumed = 0;
    const bool ok = decoder.split(batch.received_bytes(), consumed, [&](const FrameView& frame) {
      FUZZ_CHECK(out.ok);
      const auto type = Message::peek_type(frame.body);  // before the body is decoded in place
      batch.add_received(frame.body, decode_now);
      (void)type;
    });
    if (!batch.empty()) {
      batch.take_tail(consumed, tail);
      FUZZ_CHECK(tail.size() <= kDefaultMaxLength + 4);  // at most one frame still arriving
      // The worker's way: a body the reader left is lent undecoded, decoded on first use.
      Message m;
      for (size_t j = 0; j < batch.size(); ++j) {
        batch.lend(j, m, scratch);
        const std::string type(m.type());  // read before the fields, as a filter does
        out.jsonl.push_back(danmaku::format_jsonl(m));
        FUZZ_CHECK(m.type() == type);  // the same once decoded
      }
      batch.recycle((choice & 4) != 0 ? 0 : 256 * 1024);  // handed back to the reader, or freed
      if (!tail.empty()) batch.received(tail);
    }
    if (!ok) {
      out.ok = false;
      break;
    }
    at += piece;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  const Outcome split = run(stream, data[0]);
  const Outcome in_place = run_in_place(stream, data[0]);
  FUZZ_CHECK(in_place.ok == split.ok);
  FUZZ_CHECK(in_place.jsonl == split.jsonl);
  if (data[0] != 0) {
    const Outcome whole = run(stream, 0);
    FUZZ_CHECK(whole.ok == split.ok);
    FUZZ_CHECK(whole.jsonl == split.jsonl);
  }
  return 0;
}

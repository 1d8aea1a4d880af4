// RoomStream: the bodies the simulator (douyu_server.h) streams for one room, numbered.
//
// Message N of a room (N = 1, 2, 3, ...) is body N of the room's source with a simulator-only
// field `seq@=N/` spliced in right after the `type` field:
//
//   type@=chatmsg/seq@=17/rid@=9999/uid@=...
//
// Two sources:
//   * synthetic: SyntheticRoom(seed, room) (douyu/simulator/synthetic.h), with the session-control
//   types of
//     its mix (pingreq, mrkl, loginres) left out — those are not room activity, and a client may
//     consume them itself, which would leave holes in the seq numbers a test checks.
//   * replay: the lines of a file, shared by every room and used as they are (rid included).
//
// Cost model (flood mode streams hundreds of thousands of messages a second): bodies are made
// once and kept in a pool; a frame is built by copying the pool body around the seq digits into
// the caller's reused buffer — no allocation, no STT encoding per message. The synthetic pool
// grows lazily up to kSyntheticPoolSize bodies (so a room that streams little costs little) and
// then cycles; message N is therefore the same text on every connection, so a reconnecting
// client sees a consistent stream. A body is never generated N times for N messages, and N
// messages are never held in memory.
//
// Not thread-safe; owned by the server, used on its loop thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "douyu/simulator/synthetic.h"

namespace asyncore::douyu {

// One pooled body and where its seq field goes.
struct StreamBody {
  std::string text;   // STT body, no NUL; always ends with '/'
  size_t seq_at = 0;  // offset just after the `type@=.../` field (0 when the body has no type)

  // Prepares `text` (one line of a replay file, or a generated body): adds a missing final '/'
  // and finds seq_at. The `type` field is found at the top level only (a '/' inside a value is
  // always escaped, so every raw '/' ends a field).
  static StreamBody make(std::string text);
};

// Appends the frame (type 690) of `body` with `seq@=<seq>/` spliced in at body.seq_at.
void append_seq_frame(std::string& out, const StreamBody& body, uint64_t seq);

// A body list shared by all rooms (the replay file).
using SharedBodies = std::shared_ptr<const std::vector<StreamBody>>;

// Reads a replay file: one STT body per line; blank lines (and a trailing '\r') skipped. Throws
// std::runtime_error naming the file when it cannot be read or holds no body.
SharedBodies load_replay_file(const std::string& path);

class RoomStream {
 public:
  // Bodies the synthetic pool holds at most before cycling. ~350 bytes each: ~1.4 MiB per room
  // once full. Large enough that the mix shows every type (rss is 2 in 1000).
  static constexpr size_t kSyntheticPoolSize = 4096;

  // Synthetic stream for `room_id`, deterministic for `seed`.
  RoomStream(uint64_t seed, int64_t room_id);
  // Replay stream: `bodies` (non-empty) in a cycle.
  explicit RoomStream(SharedBodies bodies);
  RoomStream(const RoomStream&) = delete;
  RoomStream& operator=(const RoomStream&) = delete;

  // Body of message `seq` (>= 1). Valid until the next call (the pool may grow).
  const StreamBody& body(uint64_t seq);

  // Sequence continuity across connections: the last seq fully handed to the kernel on a
  // connection of this room that has since closed. A new connection starts at resume_after()+1.
  uint64_t resume_after() const { return resume_after_; }
  void set_resume_after(uint64_t seq) { resume_after_ = seq; }

 private:
  std::optional<SyntheticRoom> generator_;
  std::vector<StreamBody> pool_;  // synthetic only
  SharedBodies replay_;
  uint64_t resume_after_ = 0;
};

}  // namespace asyncore::douyu

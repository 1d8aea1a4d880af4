// rooms.h — which rooms a run follows: the --rooms-file format, and --shard's stable hash.
//
// ROOMS FILE: one room per line, a numeric id or a room page URL (what --room accepts, see
// douyu/protocol/room_id.h). Blank lines are ignored, and so is a comment: '#' at the start of a
// line or after a space or tab, to the end of the line (a '#' inside a URL, "douyu.com/9999#top",
// is part of it). Spaces around an entry, a Windows CR and a UTF-8 BOM are ignored. An entry that
// is not a room is an error naming the file and line.
//
// SHARDS: --shard=I/N keeps the rooms whose shard_of(id, N) is I. The hash is FNV-1a (64 bit)
// of the canonical decimal id ("007" is "7"), and shard_of is hash % N + 1: stable across
// versions, machines and the order of the list, so N processes given one list split it with
// nothing shared. The same in Python, for checking a list by hand:
//   def shard_of(rid, n):
//       h = 0xcbf29ce484222325
//       for b in rid.encode(): h = ((h ^ b) * 0x100000001b3) % 2**64
//       return h % n + 1
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace danmaku {

struct RoomEntry {
  std::string id;  // canonical numeric id
  int line = 0;    // 1-based line in the file
};

// The entries of a rooms file in file order (duplicates kept: the caller merges them), or
// nullopt with *error = "FILE:LINE: why" (or "FILE: why" when the file cannot be read).
std::optional<std::vector<RoomEntry>> read_rooms_file(const std::string& path, std::string* error);
// The same rules over text already read (`name` is used in errors).
std::optional<std::vector<RoomEntry>> parse_rooms_text(std::string_view text,
                                                       const std::string& name, std::string* error);

uint64_t room_hash(std::string_view room_id);  // FNV-1a 64 of the id's bytes
// 1 .. shards.
inline uint32_t shard_of(std::string_view room_id, uint32_t shards) {
  return static_cast<uint32_t>(room_hash(room_id) % shards) + 1;
}

struct Shard {
  uint32_t index = 1;  // 1 .. count
  uint32_t count = 1;
  // "I/N" with 1 <= I <= N <= 1,000,000; nullopt with *error otherwise.
  static std::optional<Shard> parse(std::string_view text, std::string* error);
  bool keeps(std::string_view room_id) const { return shard_of(room_id, count) == index; }
};

}  // namespace danmaku

// SyntheticRoom: realistic, deterministic Douyu room activity, generated — for the benchmarks, the
// tests and the protocol simulator server (which streams it to clients).
//
// The mix imitates a busy room in "massive barrage" mode: mostly chat (Chinese text, emoji, some
// '@' mentions and URLs with '/', colours, fan badges, nobles, avatar paths that need escaping),
// user enters, gifts with rising combo counts, broadcasts, ranking lists with nested lists of maps,
// level-ups, room status, pings, and types this library does not model (which must pass through).
// Field names and order follow messages seen on live servers. The same seed gives the same stream
// on every machine (own PRNG, no std distributions).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace asyncore::douyu {

class SyntheticRoom {
 public:
  explicit SyntheticRoom(uint64_t seed = 1, int64_t room_id = 9999);

  // The next STT body (no NUL) of the realistic mix.
  std::string next_body();
  // Appends `count` frames of the mix (type 690, server → client) to `out`.
  void append_frames(std::string& out, size_t count);

  // One body of each kind (each advances the generator).
  std::string chatmsg();
  std::string uenter();
  std::string dgb();
  std::string spbc();
  std::string rss();
  std::string bc_buy_deserve();
  std::string ssd();
  std::string anbc();
  std::string rnewbc();
  std::string blab();
  std::string upgrade();
  std::string noble_num_info();
  std::string frank();
  std::string fswrank();
  std::string ranklist();
  std::string loginres();
  std::string pingreq();
  std::string mrkl();
  std::string unknown();  // a type this library does not model (synexp, qausrespond, ...)

  int64_t room_id() const { return room_id_; }

 private:
  uint64_t next();
  uint64_t below(uint64_t n) { return next() % n; }
  int64_t uid();
  std::string nickname();
  std::string chat_text();
  std::string avatar();
  std::string rank_list(size_t entries);

  uint64_t state_;
  int64_t room_id_;
  int64_t cid_ = 0;
  int64_t tick_ms_ = 1700000000000;
  int64_t combo_gift_ = 0;
  int64_t combo_uid_ = 0;
  int64_t combo_hits_ = 0;
};

}  // namespace asyncore::douyu

// rooms.cc — the rooms file reader and the shard hash (rooms.h).
#include "samples/danmaku/rooms.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "douyu/protocol/room_id.h"

namespace danmaku {

namespace {

constexpr std::string_view kSpaces = " \t\r\v\f";
constexpr size_t kLongestEntry = 2048;  // a room page URL with its query is far shorter

std::string_view trim(std::string_view s) {
  const size_t first = s.find_first_not_of(kSpaces);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(kSpaces) - first + 1);
}

// The line without its comment: '#' at the start or after a space or tab.
std::string_view strip_comment(std::string_view line) {
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '#' && (i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t')) {
      return line.substr(0, i);
    }
  }
  return line;
}

std::optional<uint32_t> parse_u32(std::string_view s) {
  uint32_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

}  // namespace

std::optional<std::vector<RoomEntry>> parse_rooms_text(std::string_view text,
                                                       const std::string& name,
                                                       std::string* error) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  std::vector<RoomEntry> rooms;
  int line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const size_t nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    const std::string_view entry = trim(strip_comment(line));
    if (entry.empty()) continue;
    std::string why;
    // A control byte (NUL, ESC, ...) would garble the quoted entry of the error: named instead.
    const auto control = std::find_if(entry.begin(), entry.end(), [](char c) {
      return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
    });
    if (control != entry.end()) {
      if (error) {
        char byte[8];
        std::snprintf(byte, sizeof byte, "0x%02x", static_cast<unsigned char>(*control));
        *error = name + ":" + std::to_string(line_number) + ": control byte " + byte +
                 " in the entry (not a room id or URL)";
      }
      return std::nullopt;
    }
    // Nothing that long is a room: not quoted back (a garbage line could be megabytes).
    if (entry.size() > kLongestEntry) {
      if (error) {
        *error = name + ":" + std::to_string(line_number) + ": an entry of " +
                 std::to_string(entry.size()) + " bytes is not a room id or URL";
      }
      return std::nullopt;
    }
    std::optional<std::string> id = asyncore::douyu::parse_room_id(entry, &why);
    if (!id) {
      if (error) *error = name + ":" + std::to_string(line_number) + ": " + why;
      return std::nullopt;
    }
    rooms.push_back({std::move(*id), line_number});
  }
  return rooms;
}

std::optional<std::vector<RoomEntry>> read_rooms_file(const std::string& path, std::string* error) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    if (error) *error = path + ": is a directory";
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (error) *error = path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    if (error) *error = path + ": read error";
    return std::nullopt;
  }
  return parse_rooms_text(text.str(), path, error);
}

uint64_t room_hash(std::string_view room_id) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : room_id) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::optional<Shard> Shard::parse(std::string_view text, std::string* error) {
  const size_t slash = text.find('/');
  const std::optional<uint32_t> i =
      slash == std::string_view::npos ? std::nullopt : parse_u32(text.substr(0, slash));
  const std::optional<uint32_t> n =
      slash == std::string_view::npos ? std::nullopt : parse_u32(text.substr(slash + 1));
  if (!i || !n || *n < 1 || *n > 1'000'000 || *i < 1 || *i > *n) {
    if (error) *error = "want I/N with 1 <= I <= N <= 1000000, e.g. 2/3";
    return std::nullopt;
  }
  return Shard{*i, *n};
}

}  // namespace danmaku

#include "samples/danmaku/format.h"

#include <unordered_set>

#include "douyu/protocol/json.h"
#include "douyu/protocol/typed_messages.h"

namespace danmaku {

using namespace asyncore::douyu;

namespace {

// Chat colour field col: 1 red, 2 blue, 3 green, 4 orange, 5 purple, 6 pink (PROTOCOL.md §4).
const char* chat_colour(int64_t col) {
  switch (col) {
    case 1:
      return "\033[31m";
    case 2:
      return "\033[34m";
    case 3:
      return "\033[32m";
    case 4:
      return "\033[33m";
    case 5:
      return "\033[35m";
    case 6:
      return "\033[95m";
    default:
      return "";
  }
}

struct Line {
  bool color;
  std::string out;
  // Text from the wire: nothing in it may reach the terminal as a control (see format.h).
  Line& text(std::string_view s) {
    append_sanitized(out, s);
    return *this;
  }
  Line& styled(const char* style, std::string_view s) {
    if (color && *style) out += style;
    text(s);
    if (color && *style) out += "\033[0m";
    return *this;
  }
};

}  // namespace

void append_sanitized(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (c == '\n' || c == '\r' || c == '\t') {  // would break "one line per message"
      out += ' ';
      ++i;
      continue;
    }
    size_t skip = 1;
    const size_t len = utf8_sequence_length(s, i, &skip);
    if (len == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD: a raw 0x9B would be CSI on an 8-bit terminal
      i += skip;
      continue;
    }
    if (auto cp = terminal_control_at(s, i, len)) {
      if (*cp < 0x100) {
        out += "\\x";
        out += kHex[*cp >> 4];
        out += kHex[*cp & 0xF];
      } else {
        out += "\\u";
        for (int shift = 12; shift >= 0; shift -= 4) out += kHex[(*cp >> shift) & 0xF];
      }
    } else {
      out.append(s, i, len);
    }
    i += len;
  }
}

std::string format_text(std::string_view room, const Message& m, bool color) {
  Line line{color, {}};
  line.styled("\033[2m", "[").styled("\033[2m", room).styled("\033[2m", "] ");
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, ChatMsg>) {
          line.text("<lv " + std::to_string(v.level) + "> ")
              .styled(v.level >= 30 ? "\033[1;33m" : "\033[1m", v.nn)
              .text(": ")
              .styled(chat_colour(v.col), v.txt);
        } else if constexpr (std::is_same_v<T, Gift>) {
          line.styled("\033[1m", v.nn)
              .styled("\033[35m",
                      " sent gift #" + std::to_string(v.gfid) + " x" + std::to_string(v.gfcnt))
              .text(v.hits > 1 ? " (combo " + std::to_string(v.hits) + ")" : "");
        } else if constexpr (std::is_same_v<T, UserEnter>) {
          line.styled("\033[36m", "-> ")
              .styled("\033[1m", v.nn)
              .text(" (lv " + std::to_string(v.level) + ") entered");
        } else if constexpr (std::is_same_v<T, RoomStatus>) {
          line.styled(v.live() ? "\033[1;32m" : "\033[1;31m", v.live() ? "live: ON" : "live: OFF");
        } else if constexpr (std::is_same_v<T, GiftBroadcast>) {
          line.styled("\033[1;35m", "broadcast: ")
              .text(v.sn)
              .text(" gave ")
              .text(v.dn)
              .text(" ")
              .text(v.gn)
              .text(" x" + std::to_string(v.gc) + " in room ")
              .text(v.drid);
        } else if constexpr (std::is_same_v<T, RankList>) {
          line.text(v.type).text(" (" + std::to_string(v.entry_count()) + " entries)");
        } else {
          line.text(m.type().empty() ? std::string_view("(no type)") : m.type());
          std::unordered_set<std::string_view> seen{"type"};  // first occurrence wins
          for (const auto& f : m.fields()) {
            if (!seen.insert(f.key).second) continue;
            line.text(" ").text(f.key).text("=").text(f.value);
          }
        }
      },
      view(m));
  line.out += '\n';
  return std::move(line.out);
}

void append_jsonl(std::string& out, const Message& m) {
  json_append_message(out, m);
  out += '\n';
}

std::string format_jsonl(const Message& m) {
  std::string out;
  append_jsonl(out, m);
  return out;
}

}  // namespace danmaku

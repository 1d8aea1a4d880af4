// Tutorial step 5 (docs/tutorial.md): STT, Douyu's serialization ("数据内容序列化与反序列化"),
// written by hand, checked against the library (douyu/protocol/stt.h, message.h), then used on
// the simulator's live messages.
//
//   tutorial_step5_stt --port PORT [--host 127.0.0.1] [--room 9999] [--max-messages 5]
//
// Prints the codec's examples, then one line per chat message decoded by the hand-written
// decoder ("chat 1: NICKNAME: TEXT"), then how often it agreed with douyu::Message.
#include <gflags/gflags.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/loop.h"
#include "douyu/protocol/message.h"
#include "douyu/protocol/packet.h"
#include "douyu/protocol/stt.h"
#include "samples/flags.h"
#include "samples/tutorial/tutorial_client.h"

DEFINE_string(host, "127.0.0.1", "server to connect to");
DEFINE_int32(port, 0, "its port (required; douyu_server prints it)");
DEFINE_string(room, "9999", "room id");
DEFINE_int32(max_messages, 5, "close after this many chat messages");

using Fields = std::vector<std::pair<std::string, std::string>>;  // keys repeat: not a map

// '@' → "@A", then '/' → "@S" (in one pass, '@' first, so the '@' of "@S" is not escaped again).
std::string escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '@') {
      out += "@A";
    } else if (c == '/') {
      out += "@S";
    } else {
      out += c;
    }
  }
  return out;
}

// ONE left-to-right pass. Two replace() calls in a row are a classic bug: replacing "@A" first
// turns an escaped "@S" (written "@AS") into '/'; replacing "@S" first breaks "@AS" the other way.
std::string unescape(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '@' && i + 1 < text.size() && (text[i + 1] == 'A' || text[i + 1] == 'S')) {
      out += text[i + 1] == 'A' ? '@' : '/';
      ++i;
    } else {
      out += text[i];
    }
  }
  return out;
}

// key@=value/key@=value/ — keys and values escaped.
std::string encode_map(const Fields& fields) {
  std::string out;
  for (const auto& [key, value] : fields) out += escape(key) + "@=" + escape(value) + "/";
  return out;
}
// item/item/ — a list; an item that is itself a map or list is its text, escaped once more.
std::string encode_list(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += escape(item) + "/";
  return out;
}

// Splits at '/', then each item at its first "@=", and unescapes. Splitting BEFORE unescaping is
// what makes it work: an escaped value has no '/' and no "@=" left in it.
Fields decode_map(std::string_view text) {
  Fields fields;
  size_t start = 0;
  for (size_t slash; (slash = text.find('/', start)) != std::string_view::npos; start = slash + 1) {
    const std::string_view item = text.substr(start, slash - start);
    const size_t sep = item.find("@=");
    if (sep == std::string_view::npos) continue;
    fields.emplace_back(unescape(item.substr(0, sep)), unescape(item.substr(sep + 2)));
  }
  return fields;
}

std::string_view get(const Fields& fields, std::string_view key) {
  for (const auto& [k, v] : fields)
    if (k == key) return v;  // the first one wins, as in douyu::Message
  return {};
}

void show(const char* what, const std::string& mine, const std::string& library) {
  std::printf("%-34s -> %s%s\n", what, mine.c_str(), mine == library ? "" : "   (LIBRARY DIFFERS)");
}

int main(int argc, char** argv) {
  const std::string usage =
      "usage: tutorial_step5_stt --port PORT [flags]\n" + samples::describe_flags(__FILE__);
  samples::init_sample(argc, argv, usage);
  if (FLAGS_port <= 0 || FLAGS_port > 65535) samples::usage_error("give --port", usage);
  namespace dy = asyncore::douyu;

  // 1. The codec, next to the library's (dy::SttWriter, dy::stt_unescape).
  show("encode {type: loginreq, roomid}",
       encode_map({{"type", "loginreq"}, {"roomid", FLAGS_room}}),
       dy::SttWriter().add("type", "loginreq").add("roomid", FLAGS_room).str());
  show("escape \"a/b@c\"", escape("a/b@c"), dy::stt_escape("a/b@c"));
  // Nesting: a list of one map {lev: 7, num: 1}, as a value of the outer map (PROTOCOL.md §2).
  const std::string inner = encode_map({{"lev", "7"}, {"num", "1"}});
  const std::string list = encode_list({inner});
  dy::SttWriter lib_inner, lib_list;
  lib_inner.add("lev", 7).add("num", 1);
  lib_list.add_item(lib_inner.str());
  show("nested noble_num_info",
       encode_map({{"type", "noble_num_info"}, {"sum", "1"}, {"list", list}}),
       dy::SttWriter()
           .add("type", "noble_num_info")
           .add("sum", 1)
           .add("list", lib_list.str())
           .str());
  show("unescape \"@AS\" (one pass)", unescape("@AS"), dy::stt_unescape("@AS"));
  std::string naive = "@AS";  // the bug: replace "@A" first, then "@S"
  naive.replace(naive.find("@A"), 2, "@");
  naive.replace(naive.find("@S"), 2, "/");
  std::printf("%-34s -> %s   (wrong: the text was \"@S\")\n", "unescape \"@AS\" (replace @A first)",
              naive.c_str());

  // 2. Live: decode every chat message by hand, and check against douyu::Message.
  std::atomic<int> chats{0}, agreed{0};
  auto callback = [&](tutorial::TutorialClient& client, const std::string& body) {
    const Fields fields = decode_map(body);
    if (get(fields, "type") != "chatmsg") return;
    const int n = ++chats;
    if (n > FLAGS_max_messages) return;
    // The library's decoder: same fields, same order, same values?
    const dy::Message message(body);
    bool same = message.size() == fields.size();
    for (size_t i = 0; same && i < fields.size(); ++i)
      same = message.key(i) == fields[i].first && message.value(i) == fields[i].second;
    agreed += same;
    std::printf("chat %d: %s: %s\n", n, std::string(get(fields, "nn")).c_str(),
                std::string(get(fields, "txt")).c_str());
    if (n == FLAGS_max_messages)
      client.call_on_loop([](tutorial::TutorialClient& c) { c.close(); });
  };

  asyncore::Loop loop;
  auto client = asyncore::make_dispatcher<tutorial::TutorialClient>(
      loop, FLAGS_host, static_cast<uint16_t>(FLAGS_port), callback);
  // The requests, encoded with our own encoder now.
  client->send_packet(dy::Packet(encode_map({{"type", "loginreq"}, {"roomid", FLAGS_room}})));
  client->send_packet(
      dy::Packet(encode_map({{"type", "joingroup"}, {"rid", FLAGS_room}, {"gid", "-9999"}})));
  loop.loop(5.0);
  client.reset();  // joins the worker: `chats` and `agreed` are final
  const int decoded = std::min(chats.load(), FLAGS_max_messages);
  std::printf("hand-written decoder agreed with douyu::Message on %d of %d messages\n",
              agreed.load(), decoded);
  return decoded == FLAGS_max_messages && agreed == decoded ? 0 : 1;
}

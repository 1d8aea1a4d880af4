#include "samples/danmaku/options.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <map>
#include <sstream>

namespace danmaku {

namespace {

// Digits only (no sign, no spaces), at most UINT64_MAX.
bool parse_u64(const std::string& text, uint64_t& out) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) return false;
  errno = 0;
  const unsigned long long v = std::strtoull(text.c_str(), nullptr, 10);
  if (errno != 0) return false;
  out = v;
  return true;
}

// A decimal number in [lo, hi] (or exactly 0 when `zero_ok`); `why` says what is wrong.
bool parse_number(const std::string& text, double lo, double hi, bool zero_ok, double& out,
                  std::string& why) {
  char* end = nullptr;
  errno = 0;
  const double v = text.empty() ? 0 : std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || std::isnan(v)) {
    why = "not a number";
    return false;
  }
  if (zero_ok && v == 0 && errno == 0) {
    out = 0;
    return true;
  }
  if (errno == ERANGE || !(v >= lo && v <= hi)) {
    std::ostringstream range;
    range << "allowed: " << (zero_ok ? "0 or " : "") << lo << " .. " << hi;
    why = range.str();
    return false;
  }
  out = v;
  return true;
}

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

bool is_room_id(const std::string& id) {
  if (id.empty() || id.size() > 18) return false;
  for (char c : id) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

std::string usage() {
  return R"(usage: douyu_danmaku (--room=ID[,ID...] | --demo) [flags]

Collects Douyu live-room barrage (danmaku) and prints it. Logs go to stderr.

  --room=ID          room id (numeric); repeat it or separate ids by commas for several rooms
                     (a room given twice is connected once, with a warning)
  --host=HOST        barrage server host (default openbarrage.douyutv.com)
  --port=PORT        barrage server port (default 8601)
  --demo             start the Douyu simulator in-process on a free loopback port and connect
                     to it (room 9999 unless --room is given)
  --demo-rate=R      simulator messages per second per room with --demo (default 50;
                     0 .. 1000000)
  --demo-flood=N     with --demo, the simulator sends N messages as fast as it can instead
  --output=FORMAT    text (default; one line per message, coloured on a terminal),
                     jsonl (one JSON object per message, fields as strings in wire order),
                     none (print nothing)
  --types=T1,T2      only these message types (e.g. chatmsg,dgb,uenter); default all
                     except loginres and mrkl, which are shown only when named here
  --max-messages=N   exit after N delivered messages (loginres and mrkl not counted)
  --duration=SEC     exit after SEC seconds (0.001 .. 1e9; 0, the default: no limit)
  --heartbeat=SEC    heartbeat interval (default 45; 0.1 .. 86400)
  --drain-timeout=SEC
                     at the end, how long to wait for a stdout nobody reads before giving up on
                     the lines not yet written (default 2; 0 .. 3600); a second signal gives up
                     at once
  --reconnect        reconnect with backoff when the connection is lost (default)
  --noreconnect      exit with status 1 when the connection cannot be made or is lost
  --stats            print messages/s to stderr every second
  --decode=MODE      fields (default: messages are decoded to their fields) or typed (also
                     route every message through DouyuHandler::dispatch to its typed view;
                     for the benchmarks in bench/, see docs/PERFORMANCE.md)
  --help             this text

Output: messages are written whole, and at once whenever the client has caught up (a pipe
gets every line without delay). If stdout is not read, --duration and signals still end the run
within --drain-timeout; the lines that could not be written are counted on stderr.

Exit status: 0 normal end (N messages, duration, SIGINT/SIGTERM/SIGHUP; logout is sent first
               and every line written), and also when the reader of stdout goes away (EPIPE,
               e.g. `| head`): the run ends quietly, like --max-messages;
             1 cannot connect (or connection lost) with --noreconnect; a write to stdout failed
               (e.g. a full disk: the error is named); lines were lost because stdout was not
               read within --drain-timeout of the end; stdout is closed (>&-) while there is
               output to write (--output=none runs without it); a room cannot be started
               (e.g. no more threads: ulimit -u);
             2 usage error (unknown flag, bad or out-of-range value).
)";
}

ParseResult parse_options(const std::vector<std::string>& args) {
  ParseResult result;
  Options o;
  auto fail = [&](std::string message) {
    result.error = std::move(message);
    return result;
  };
  std::string why;  // set by a flag's parser to say why its value is bad
  auto number = [&](double lo, double hi, bool zero_ok, double& out) {
    return [&, lo, hi, zero_ok](const std::string& v) {
      return parse_number(v, lo, hi, zero_ok, out, why);
    };
  };
  std::map<std::string, int> room_count;
  // Flags that take a value; each returns false on a bad value.
  const std::map<std::string, std::function<bool(const std::string&)>> valued = {
      {"room",
       [&](const std::string& v) {
         for (auto& id : split_commas(v)) {
           if (!is_room_id(id)) return false;
           id.erase(0, std::min(id.find_first_not_of('0'), id.size() - 1));  // 007 is room 7
           if (room_count[id]++ == 0) o.rooms.push_back(id);
         }
         return !split_commas(v).empty();
       }},
      {"host",
       [&](const std::string& v) {
         o.host = v;
         return !v.empty();
       }},
      {"port",
       [&](const std::string& v) {
         uint64_t p = 0;
         if (!parse_u64(v, p) || p == 0 || p > 65535) {
           why = "allowed: 1 .. 65535";
           return false;
         }
         o.port = static_cast<uint16_t>(p);
         return true;
       }},
      {"demo-rate", number(0, kMaxDemoRate, true, o.demo_rate)},
      {"demo-flood", [&](const std::string& v) { return parse_u64(v, o.demo_flood); }},
      {"output",
       [&](const std::string& v) {
         if (v == "text")
           o.output = Output::kText;
         else if (v == "jsonl")
           o.output = Output::kJsonl;
         else if (v == "none")
           o.output = Output::kNone;
         else
           return false;
         return true;
       }},
      {"decode",
       [&](const std::string& v) {
         if (v == "fields")
           o.decode = Decode::kFields;
         else if (v == "typed")
           o.decode = Decode::kTyped;
         else
           return false;
         return true;
       }},
      {"types",
       [&](const std::string& v) {
         for (auto& t : split_commas(v)) o.types.insert(t);
         return !o.types.empty();
       }},
      {"max-messages", [&](const std::string& v) { return parse_u64(v, o.max_messages); }},
      {"duration", number(kMinDuration, kMaxDuration, true, o.duration)},
      {"heartbeat", number(kMinHeartbeat, kMaxHeartbeat, false, o.heartbeat)},
      {"drain-timeout", number(0, kMaxDrainTimeout, true, o.drain_timeout)},
  };
  const std::map<std::string, std::function<void()>> switches = {
      {"demo", [&] { o.demo = true; }},
      {"reconnect", [&] { o.reconnect = true; }},
      {"noreconnect", [&] { o.reconnect = false; }},
      {"stats", [&] { o.stats = true; }},
  };

  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      result.help = true;
      return result;
    }
    if (arg.rfind("--", 0) != 0) return fail("unexpected argument '" + arg + "'");
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    if (auto s = switches.find(name); s != switches.end()) {
      if (value) return fail("--" + name + " takes no value");
      s->second();
      continue;
    }
    auto v = valued.find(name);
    if (v == valued.end()) return fail("unknown flag --" + name);
    if (!value) {
      if (i + 1 >= args.size()) return fail("--" + name + " needs a value");
      value = args[++i];
    }
    why.clear();
    if (!v->second(*value)) {
      return fail("--" + name + ": bad value '" + *value + "'" +
                  (why.empty() ? "" : " (" + why + ")"));
    }
  }
  for (const auto& [id, n] : room_count) {
    if (n > 1) {
      result.warnings.push_back("room " + id + " given " + std::to_string(n) +
                                " times: connecting to it once");
    }
  }
  if (o.rooms.empty()) {
    if (!o.demo) return fail("give --room=ID (or --demo)");
    o.rooms.push_back("9999");
  }
  result.options = std::move(o);
  return result;
}

}  // namespace danmaku

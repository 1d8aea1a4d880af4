// options.cc — douyu_danmaku's flags as gflags flags, and the rules gflags cannot express: value
// ranges, repeatable --room/--types, where to connect, TLS flags that only apply to wss.
#include "samples/danmaku/options.h"

#include <gflags/gflags.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <map>
#include <sstream>
#include <thread>

#include "core/address.h"
#include "douyu/protocol/room_id.h"
#include "samples/flags.h"

// Descriptions are for gflags' registry; the help users read is usage() below.
DEFINE_string(room, "", "room id or room page URL; repeatable, comma-separated");
DEFINE_string(url, "", "barrage endpoint: tcp://, ws:// or wss:// HOST[:PORT][/PATH]");
DEFINE_string(host, danmaku::kHistoricHost, "barrage server host (tcp)");
DEFINE_int32(port, danmaku::kHistoricPort, "barrage server port (tcp)");
DEFINE_string(ca_file, "", "PEM file of trust anchors for wss");
DEFINE_bool(insecure, false, "wss without certificate verification (tests only)");
DEFINE_bool(tls_compat, false, "wss with TLS 1.2 and DEFAULT:@SECLEVEL=1 (old servers)");
DEFINE_bool(demo, false, "run the Douyu simulator in-process and connect to it");
DEFINE_double(demo_rate, 50, "simulator messages per second per room");
DEFINE_uint64(demo_flood, 0, "simulator sends N messages as fast as it can");
DEFINE_string(demo_transport, "tcp", "what the demo simulator speaks: tcp, ws or wss");
DEFINE_string(output, "text", "text, jsonl or none");
DEFINE_string(types, "", "only these message types, comma-separated");
DEFINE_uint64(max_messages, 0, "exit after N delivered messages (0: no limit)");
DEFINE_double(duration, 0, "exit after SEC seconds (0: no limit)");
DEFINE_double(heartbeat, 45, "heartbeat interval in seconds");
DEFINE_double(drain_timeout, 2, "seconds an unread stdout may hold up the end");
DEFINE_bool(reconnect, true, "reconnect with backoff when the connection is lost");
DEFINE_bool(stats, false, "print messages/s to stderr every second");
DEFINE_string(decode, "lazy", "lazy, fields or typed");
DEFINE_string(rooms_file, "", "file of rooms, one id or URL per line");
DEFINE_string(shard, "", "I/N: only the rooms of shard I of N");
DEFINE_uint32(threads, 0, "worker pool threads shared by all rooms (0: auto)");
DEFINE_double(connect_rate, 500, "connection attempts per second, all rooms (0: no limit)");
DEFINE_double(stats_interval, 5, "seconds between --stats reports");
DEFINE_string(redis, "", "Redis server for the Streams sink: HOST:PORT or redis://...");
DEFINE_string(redis_stream, "douyu:{rid}", "stream name template ({rid}: room id)");
DEFINE_uint64(redis_maxlen, 0, "XADD MAXLEN ~ N (0: no trimming)");
DEFINE_uint64(redis_buffer, 300000, "messages buffered while Redis is unreachable");
DEFINE_double(redis_flush_timeout, 10, "seconds the end of the run waits for Redis");
DEFINE_int32(web, -1, "serve the browser overlay on this port (0: a free one)");
DEFINE_string(web_host, "127.0.0.1", "address the overlay's server listens on");

namespace danmaku {

namespace {

using asyncore::douyu::Endpoint;
using asyncore::douyu::Transport;

// `v` in [lo, hi] (or exactly 0 when `zero_ok`), else why not.
std::optional<std::string> out_of_range(double v, double lo, double hi, bool zero_ok) {
  if (std::isnan(v)) return "not a number";
  if ((zero_ok && v == 0) || (v >= lo && v <= hi)) return std::nullopt;
  std::ostringstream range;
  range << "allowed: " << (zero_ok ? "0 or " : "") << lo << " .. " << hi;
  return range.str();
}

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

// Empty when `path` is a file we can read.
std::string unreadable(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::strerror(errno);
  if (S_ISDIR(st.st_mode)) return "it is a directory";
  if (::access(path.c_str(), R_OK) != 0) return std::strerror(errno);
  return "";
}

}  // namespace

std::string usage() {
  return R"(usage: douyu_danmaku (--room=ID[,ID...] | --demo) [flags]

Collects Douyu live-room barrage (danmaku) and prints it. Logs go to stderr.

  --room=ID          room id (numeric), or the room page's URL (https://www.douyu.com/9999,
                     douyu.com/topic/...?rid=9999); repeat it or separate them by commas for
                     several rooms (a room given twice is connected once, with a warning).
                     A page named by a word (douyu.com/xiaozhi) is refused: the number is the rid
                     in the page's URL, or "room_id" in its source
  --rooms-file=FILE  more rooms, one id or room URL per line; blank lines and # comments are
                     ignored (with --room: both lists, each room once)
  --shard=I/N        keep only the rooms of shard I of N (1 <= I <= N): N processes given one
                     list split it with nothing shared (stable hash: FNV-1a of the room id,
                     mod N, plus 1; see README "Many rooms")
  --threads=N        the rooms share a pool of N worker threads (order kept within each room)
                     and heartbeat from the event loop. Default 0 = auto: up to 8 rooms, each
                     has its own worker and heartbeat threads; above that, a pool of one
                     thread per core (at least 2)
  --connect-rate=R   at most R connection attempts per second, all rooms together, first
                     connects and reconnects alike (default 500; 0: no limit), so neither a long
                     list nor a network blip that drops every room opens them all in one burst
  --url=URL          barrage endpoint: tcp://HOST[:PORT], ws://HOST[:PORT][/PATH] or
                     wss://HOST[:PORT][/PATH] (IPv6 hosts in brackets). Without --url, --host
                     or --demo a room uses Douyu's WebSocket proxy,
                     wss://danmuproxy.douyu.com:8501..8506/
  --host=HOST        the historic TCP endpoint instead: tcp://HOST:PORT
                     (default openbarrage.douyutv.com; not with --url)
  --port=PORT        its port (default 8601; not with --url)
  --ca-file=PEM      wss: trust the certificates in PEM instead of the system's
  --insecure         wss: do not verify the server's certificate (for tests only; not with
                     --ca-file)
  --tls-compat       wss: TLS 1.2 and the cipher list DEFAULT:@SECLEVEL=1, for old servers
                     (the three wss flags are ignored, with a warning, for tcp:// and ws://)
  --demo             start the Douyu simulator in-process on a free loopback port and connect
                     to it (room 9999 unless --room is given)
  --demo-rate=R      simulator messages per second per room with --demo (default 50;
                     0 .. 1000000)
  --demo-flood=N     with --demo, the simulator sends N messages as fast as it can instead
  --demo-transport=T with --demo, what the simulator speaks: tcp (default), ws or wss (with a
                     certificate made for this run, which the client trusts)
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
  --stats            every --stats-interval seconds (default 5), on stderr: the total rate,
                     rooms joined, reconnects, the Redis sink's backlog and drops, and the
                     busiest rooms' rates
  --redis=TARGET     also write every room message (not loginres, mrkl, pingreq, keeplive)
                     to Redis Streams with XADD: HOST:PORT or redis://[:PASSWORD@]HOST:PORT[/DB]
                     (the password is never logged). Exactly once across a Redis restart; see
                     docs/REDIS.md. A password on the command line is hidden from ps once the
                     flags are read; to keep it off the command line altogether, set
                     DOUYU_REDIS_PASSWORD instead (used when --redis gives none)
  --redis-stream=T   stream name template; {rid} is the room id (default douyu:{rid})
  --redis-maxlen=N   trim each stream to about N entries (XADD MAXLEN ~ N; default 0: never)
  --redis-buffer=N   messages kept while Redis is unreachable (default 300000); past it the
                     oldest are dropped and counted on stderr
  --redis-flush-timeout=SEC
                     at the end, how long to wait for Redis to take what is buffered
                     (default 10; 0 .. 3600); a second signal gives up at once
  --web=PORT         also serve a live barrage overlay for browsers (an OBS browser source) at
                     http://HOST:PORT/ on the same event loop: the page at /, every message that
                     --types lets through as Server-Sent Events at /events (the JSON of
                     --output=jsonl). 0 takes a free port; once listening, stderr says
                     "web overlay: http://HOST:PORT/". Page options in the URL: see
                     docs/WEB.md and the README's overlay section
  --web-host=ADDR    the address it listens on (default 127.0.0.1; an IPv6 address such as ::1
                     works; 0.0.0.0 or :: opens it to the network: the overlay has no password)
  --decode=MODE      lazy (default: a message's fields are decoded when something reads
                     them; --output=none reads only the type), fields (decode every message)
                     or typed (also route every message through DouyuHandler::dispatch to its
                     typed view); for the benchmarks in bench/, see docs/PERFORMANCE.md
  --help             this text

Flags take --name=value or --name value (switches: --name, --noname); --a-b and --a_b are the
same flag.

)" + samples::glog_flags_help() +
         R"(
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
               (e.g. no more threads: ulimit -u); Redis refused the password; messages
               were dropped by the Redis buffer or not written within --redis-flush-timeout;
             2 usage error (unknown flag, bad or out-of-range value, a --ca-file that cannot
               be read, contradictory flags).
)";
}

Endpoint endpoint_of(const Options& o) {
  if (o.demo) return Endpoint{o.demo_transport, o.host, o.port, "/"};
  if (!o.url && o.host_given) return Endpoint{Transport::kTcp, o.host, o.port, "/"};
  return o.url ? *o.url : asyncore::douyu::douyu_default_endpoint();
}

unsigned pool_threads(const Options& o) {
  if (o.threads > 0) return o.threads;
  if (o.rooms.size() <= kOwnThreadsUpTo) return 0;
  return std::max(2U, std::thread::hardware_concurrency());
}

ParseResult parse_options(const std::vector<std::string>& args) {
  ParseResult result;
  auto fail = [&](std::string message) {
    result.error = std::move(message);
    return result;
  };
  const samples::ParsedFlags flags = samples::parse_flags(args);
  if (flags.help) {
    result.help = true;
    return result;
  }
  if (!flags.error.empty()) return fail(flags.error);
  if (!flags.positional.empty()) return fail("unexpected argument '" + flags.positional[0] + "'");

  Options o;
  // gflags keeps the last value of a flag; --room and --types add up, so they read every use.
  std::map<std::string, const samples::FlagUse*> last;  // flag name -> its last use
  std::map<std::string, int> room_count;
  for (const samples::FlagUse& use : flags.uses) {
    last[use.name] = &use;
    if (use.name == "room") {
      const std::vector<std::string> items = split_commas(use.value);
      if (items.empty()) return fail(use.given + ": bad value '" + use.value + "'");
      for (const std::string& item : items) {
        std::string why;
        const std::optional<std::string> id = asyncore::douyu::parse_room_id(item, &why);
        if (!id) return fail(use.given + ": " + why);
        if (room_count[*id]++ == 0) o.rooms.push_back(*id);
      }
    } else if (use.name == "types") {
      for (const std::string& t : split_commas(use.value)) o.types.insert(t);
      if (o.types.empty()) return fail(use.given + ": bad value '" + use.value + "'");
    }
  }
  // A value gflags accepted but our rules do not: "--flag: bad value 'v' (why)". Defaults obey
  // the rules, so a flag that breaks one was given.
  auto bad = [&](const char* name, const std::string& why) {
    const samples::FlagUse& use = *last.at(name);
    return fail(use.given + ": bad value '" + use.value + "'" +
                (why.empty() ? "" : " (" + why + ")"));
  };
  struct Ranged {
    const char* name;
    double value, lo, hi;
    bool zero_ok;
    double* out;
  };
  for (const Ranged& r :
       {Ranged{"heartbeat", FLAGS_heartbeat, kMinHeartbeat, kMaxHeartbeat, false, &o.heartbeat},
        Ranged{"duration", FLAGS_duration, kMinDuration, kMaxDuration, true, &o.duration},
        Ranged{"demo_rate", FLAGS_demo_rate, 0, kMaxDemoRate, true, &o.demo_rate},
        Ranged{"drain_timeout", FLAGS_drain_timeout, 0, kMaxDrainTimeout, true,
               &o.drain_timeout}}) {
    if (auto why = out_of_range(r.value, r.lo, r.hi, r.zero_ok)) return bad(r.name, *why);
    *r.out = r.value;
  }
  if (FLAGS_port < 1 || FLAGS_port > 65535) return bad("port", "allowed: 1 .. 65535");
  if (FLAGS_host.empty()) return bad("host", "");
  o.host = FLAGS_host;
  o.port = static_cast<uint16_t>(FLAGS_port);
  o.host_given = last.count("host") != 0 || last.count("port") != 0;
  o.demo_flood = FLAGS_demo_flood;
  o.max_messages = FLAGS_max_messages;
  o.demo = FLAGS_demo;
  o.reconnect = FLAGS_reconnect;
  o.stats = FLAGS_stats;
  const std::map<std::string, Output> outputs = {
      {"text", Output::kText}, {"jsonl", Output::kJsonl}, {"none", Output::kNone}};
  if (outputs.count(FLAGS_output) == 0) return bad("output", "text, jsonl or none");
  o.output = outputs.at(FLAGS_output);
  const std::map<std::string, Decode> decodes = {
      {"lazy", Decode::kLazy}, {"fields", Decode::kFields}, {"typed", Decode::kTyped}};
  if (decodes.count(FLAGS_decode) == 0) return bad("decode", "lazy, fields or typed");
  o.decode = decodes.at(FLAGS_decode);
  const std::map<std::string, Transport> transports = {
      {"tcp", Transport::kTcp}, {"ws", Transport::kWs}, {"wss", Transport::kWss}};
  if (transports.count(FLAGS_demo_transport) == 0) return bad("demo_transport", "tcp, ws or wss");
  o.demo_transport = transports.at(FLAGS_demo_transport);

  // Where to connect.
  if (last.count("url") != 0) {
    if (o.host_given) return fail("--url and --host/--port both say where to connect: give one");
    std::string why;
    o.url = asyncore::douyu::parse_endpoint(FLAGS_url, &why);
    if (!o.url) return fail(last.at("url")->given + ": " + why);
  }
  if (o.demo && (o.url || o.host_given)) {
    result.warnings.push_back(
        "--demo connects to its in-process simulator: --url, --host and --port are ignored");
  }

  // TLS: a contradiction is an error; a flag the endpoint cannot use, a warning.
  o.ca_file = FLAGS_ca_file;
  o.insecure = FLAGS_insecure;
  o.tls_compat = FLAGS_tls_compat;
  if (last.count("ca_file") != 0) {
    if (o.ca_file.empty()) return bad("ca_file", "a PEM file");
    if (const std::string why = unreadable(o.ca_file); !why.empty())
      return fail(last.at("ca_file")->given + ": cannot read '" + o.ca_file + "': " + why);
  }
  if (o.insecure && !o.ca_file.empty()) {
    return fail(
        "--insecure and --ca-file contradict each other (no verification, or "
        "verification against the file): give one");
  }
  const Endpoint endpoint = endpoint_of(o);
  if (o.demo || endpoint.transport != Transport::kWss) {
    const std::string where =
        o.demo ? "--demo (it trusts its own simulator's certificate)" : endpoint.to_string();
    const std::pair<const char*, bool> tls_flags[] = {
        {"ca_file", !o.ca_file.empty()}, {"insecure", o.insecure}, {"tls_compat", o.tls_compat}};
    for (const auto& [name, set] : tls_flags) {
      if (set) {
        result.warnings.push_back(last.at(name)->given + " applies to wss:// only; ignored for " +
                                  where);
      }
    }
  }

  // Rooms: --room first, then the file's, each once.
  if (last.count("rooms_file") != 0) {
    const std::string& given = last.at("rooms_file")->given;
    o.rooms_file = FLAGS_rooms_file;
    if (o.rooms_file.empty()) return bad("rooms_file", "a file");
    if (const std::string why = unreadable(o.rooms_file); !why.empty())
      return fail(given + ": cannot read '" + o.rooms_file + "': " + why);
    std::string why;
    const auto entries = read_rooms_file(o.rooms_file, &why);
    if (!entries) return fail(given + ": " + why);
    if (entries->empty()) result.warnings.push_back(given + ": the file lists no rooms");
    for (const RoomEntry& e : *entries) {
      if (room_count[e.id]++ == 0) o.rooms.push_back(e.id);
    }
  }
  size_t repeated = 0;
  for (const auto& [id, n] : room_count) {
    if (n > 1 && ++repeated <= 10) {
      result.warnings.push_back("room " + id + " given " + std::to_string(n) +
                                " times: connecting to it once");
    }
  }
  if (repeated > 10) {
    result.warnings.push_back(std::to_string(repeated - 10) +
                              " more rooms given more than once: each connected once");
  }
  if (o.rooms.empty()) {
    if (last.count("rooms_file") == 0 && !o.demo) return fail("give --room=ID (or --demo)");
    if (last.count("rooms_file") == 0) o.rooms.push_back("9999");
  }
  o.rooms_given = o.rooms.size();
  if (last.count("shard") != 0) {
    std::string why;
    o.shard = Shard::parse(FLAGS_shard, &why);
    if (!o.shard) return bad("shard", why);
    std::erase_if(o.rooms, [&](const std::string& id) { return !o.shard->keeps(id); });
  }

  // Many rooms.
  if (FLAGS_threads > kMaxThreads) return bad("threads", "allowed: 0 .. 1024");
  o.threads = FLAGS_threads;
  for (const Ranged& r :
       {Ranged{"connect_rate", FLAGS_connect_rate, 0, kMaxConnectRate, true, &o.connect_rate},
        Ranged{"stats_interval", FLAGS_stats_interval, 0.1, 86400, false, &o.stats_interval},
        Ranged{"redis_flush_timeout", FLAGS_redis_flush_timeout, 0, 3600, true,
               &o.redis_flush_timeout}}) {
    if (auto why = out_of_range(r.value, r.lo, r.hi, r.zero_ok)) return bad(r.name, *why);
    *r.out = r.value;
  }

  // The Redis Streams sink.
  if (last.count("redis") != 0) {
    std::string why;
    o.redis = asyncore::redis::RedisTarget::parse(FLAGS_redis, &why);
    // The error names the flag, not its value: the value may hold a password.
    if (!o.redis) return fail(last.at("redis")->given + ": " + why);
  }
  if (FLAGS_redis_stream.empty()) return bad("redis_stream", "a stream name, e.g. douyu:{rid}");
  if (FLAGS_redis_buffer == 0) return bad("redis_buffer", "at least 1");
  o.redis_stream = FLAGS_redis_stream;
  o.redis_maxlen = FLAGS_redis_maxlen;
  o.redis_buffer = FLAGS_redis_buffer;
  if (!o.redis) {
    for (const char* name :
         {"redis_stream", "redis_maxlen", "redis_buffer", "redis_flush_timeout"}) {
      if (last.count(name) != 0)
        result.warnings.push_back(last.at(name)->given + " applies with --redis only; ignored");
    }
  }
  // The browser overlay.
  if (last.count("web") != 0) {
    if (FLAGS_web < 0 || FLAGS_web > 65535)
      return bad("web", "allowed: 0 .. 65535; 0: a free port");
    o.web_port = static_cast<uint16_t>(FLAGS_web);
  }
  if (last.count("web_host") != 0) {
    if (!asyncore::Address::parse(FLAGS_web_host, 0)) {
      return bad("web_host", "a numeric IPv4 or IPv6 address, e.g. 127.0.0.1 or ::1");
    }
    o.web_host = FLAGS_web_host;
    if (!o.web_port)
      result.warnings.push_back(last.at("web_host")->given + " applies with --web only; ignored");
  }
  result.options = std::move(o);
  return result;
}

}  // namespace danmaku

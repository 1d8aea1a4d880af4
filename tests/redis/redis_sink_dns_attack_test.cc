// Attacks on the Redis sink's host-name lookup (evdns on the Loop, on every attempt, within
// connect_timeout, holding the Loop while in flight): lifetimes around a pending lookup, late and
// stale answers, address lists that refuse, AUTH/SELECT with a name, many sinks on one resolver,
// add() from other threads while lookups come and go, numeric targets, loop() returning.
// Everything talks to loopback only: a real redis-server per test and a scripted DNS server.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <cctype>
#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/address.h"
#include "core/dispatcher.h"
#include "redis/redis_stream_sink.h"
#include "sink_test_util.h"

namespace asyncore::redis::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Ipv4 = std::array<unsigned char, 4>;
using Ipv6 = std::array<unsigned char, 16>;

// A UDP DNS server on 127.0.0.1 whose behaviour the test scripts, per name (case-insensitive:
// evdns randomizes the case of its queries) or by default: hold a query until released, answer it
// at once with the name's A / AAAA records (in order; none is an empty NOERROR answer), answer
// NXDOMAIN, or stay silent. Each query remembers a tag (what tagger() said when it arrived), so a
// test can answer the queries of one attempt and not another's.
class ScriptedDns : public Dispatcher {
 public:
  enum class Mode { kHold, kAnswer, kNxdomain, kSilent };
  struct Query {
    std::vector<unsigned char> bytes;
    sockaddr_storage from{};
    socklen_t from_len = 0;
    std::string name;  // lower case
    bool type_a = false, type_aaaa = false;
    int tag = 0;
  };

  explicit ScriptedDns(Loop& loop, Mode mode = Mode::kHold) : Dispatcher(loop), mode_(mode) {
    create_socket(AF_INET, SOCK_DGRAM);
    bind(Address::ipv4_loopback(0));
    port = Address::local_of(fileno()).port();
  }
  bool writable() override { return false; }
  void handle_read() override {
    unsigned char buf[512];
    Query q;
    q.from_len = sizeof q.from;
    const ssize_t n =
        ::recvfrom(fileno(), buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&q.from), &q.from_len);
    if (n < 12) return;
    size_t end = 12;  // QNAME labels, then QTYPE + QCLASS
    while (end < static_cast<size_t>(n) && buf[end] != 0) {
      if (!q.name.empty()) q.name += '.';
      for (size_t i = end + 1; i <= end + buf[end] && i < static_cast<size_t>(n); ++i) {
        q.name += static_cast<char>(std::tolower(buf[i]));
      }
      end += buf[end] + 1;
    }
    end += 1 + 4;
    if (end > static_cast<size_t>(n)) return;
    q.type_a = buf[end - 4] == 0 && buf[end - 3] == 1;
    q.type_aaaa = buf[end - 4] == 0 && buf[end - 3] == 28;
    q.bytes.assign(buf, buf + end);
    q.tag = tagger ? tagger() : 0;
    ++queries;
    ++queries_for[q.name];
    if (on_query) on_query(q);
    switch (mode_of(q.name)) {
      case Mode::kHold:
        held_.push_back(std::move(q));
        break;
      case Mode::kAnswer:
        answer(q, /*nxdomain=*/false);
        break;
      case Mode::kNxdomain:
        answer(q, /*nxdomain=*/true);
        break;
      case Mode::kSilent:
        break;
    }
  }

  void set_mode(Mode m) { mode_ = m; }
  void set_mode(const std::string& name, Mode m) { modes_[name] = m; }
  void set_ipv4(const std::string& name, std::vector<Ipv4> a) { ipv4_[name] = std::move(a); }
  void set_ipv6(const std::string& name, std::vector<Ipv6> a) { ipv6_[name] = std::move(a); }
  // Answers (with the name's current records) the held queries `which` accepts; returns how many.
  int release_held(const std::function<bool(const Query&)>& which = nullptr) {
    int n = 0;
    std::vector<Query> keep;
    for (Query& q : held_) {
      if (!which || which(q)) {
        answer(q, /*nxdomain=*/false);
        ++n;
      } else {
        keep.push_back(std::move(q));
      }
    }
    held_ = std::move(keep);
    return n;
  }
  // Answers the held queries for `name` and every later one at once.
  int release(const std::string& name) {
    set_mode(name, Mode::kAnswer);
    return release_held([&](const Query& q) { return q.name == name; });
  }
  size_t held() const { return held_.size(); }
  size_t held_if(const std::function<bool(const Query&)>& which) const {
    size_t n = 0;
    for (const Query& q : held_) n += which(q);
    return n;
  }
  size_t held_for(const std::string& name) const {
    size_t n = 0;
    for (const Query& q : held_) n += q.name == name;
    return n;
  }
  std::string nameserver() const { return "127.0.0.1:" + std::to_string(port); }

  uint16_t port = 0;
  int queries = 0;
  int answered = 0;
  std::map<std::string, int> queries_for;
  std::function<int()> tagger;
  std::function<void(const Query&)> on_query;

 private:
  Mode mode_of(const std::string& name) const {
    auto it = modes_.find(name);
    return it == modes_.end() ? mode_ : it->second;
  }
  void answer(const Query& q, bool nxdomain) {
    std::vector<unsigned char> out = q.bytes;
    out[2] |= 0x80;                                                  // QR: a response
    out[3] = static_cast<unsigned char>(0x80 | (nxdomain ? 3 : 0));  // RA, RCODE
    out[6] = out[7] = out[8] = out[9] = out[10] = out[11] = 0;
    if (!nxdomain && q.type_a) {
      auto it = ipv4_.find(q.name);
      const std::vector<Ipv4> ips =
          it == ipv4_.end() ? std::vector<Ipv4>{{127, 0, 0, 1}} : it->second;
      out[7] = static_cast<unsigned char>(ips.size());
      for (const Ipv4& ip : ips) {
        const unsigned char record[] = {0xC0, 0x0C, 0, 1, 0,     1,     0,     0,
                                        0,    60,   0, 4, ip[0], ip[1], ip[2], ip[3]};
        out.insert(out.end(), record, record + sizeof record);
      }
    } else if (!nxdomain && q.type_aaaa) {
      auto it = ipv6_.find(q.name);
      const std::vector<Ipv6> ips = it == ipv6_.end() ? std::vector<Ipv6>{} : it->second;
      out[7] = static_cast<unsigned char>(ips.size());
      for (const Ipv6& ip : ips) {
        const unsigned char head[] = {0xC0, 0x0C, 0, 28, 0, 1, 0, 0, 0, 60, 0, 16};
        out.insert(out.end(), head, head + sizeof head);
        out.insert(out.end(), ip.begin(), ip.end());
      }
    }
    ++answered;
    ::sendto(fileno(), out.data(), out.size(), 0, reinterpret_cast<const sockaddr*>(&q.from),
             q.from_len);
  }

  Mode mode_;
  std::map<std::string, Mode> modes_;
  std::map<std::string, std::vector<Ipv4>> ipv4_;
  std::map<std::string, std::vector<Ipv6>> ipv6_;
  std::vector<Query> held_;
};

constexpr const char* kName = "redis.attack.test";

// A target named `name`; the Loop's resolver asks `dns` (set_nameservers: the Loop's first sink,
// since set_dns_nameservers() must precede the first lookup).
RedisSinkOptions named(const RedisServer& server, Loop& loop, const ScriptedDns& dns,
                       const std::string& name = kName, bool set_nameservers = true) {
  if (set_nameservers) loop.set_dns_nameservers({dns.nameserver()});
  RedisSinkOptions o = options_for(server);
  o.target.host = name;
  return o;
}

// Normal clients connected to the server, the one asking excluded.
int other_clients(const RedisServer& server) {
  RedisReplyPtr r = server.command({"CLIENT", "LIST", "TYPE", "normal"});
  if (!r || r->type != REDIS_REPLY_STRING) return -1;
  int lines = 0;
  for (size_t i = 0; i < r->len; ++i) lines += r->str[i] == '\n';
  return lines - 1;
}

// Stream douyu:<room> holds exactly chat(room, 0..count-1), once each, in order ("" when so).
std::string check_room(const RedisServer& server, int room, int count) {
  const auto entries = read_stream(server, "douyu:" + std::to_string(room));
  if (entries.size() != static_cast<size_t>(count)) {
    return "room " + std::to_string(room) + ": " + std::to_string(entries.size()) +
           " entries, want " + std::to_string(count);
  }
  for (int n = 0; n < count; ++n) {
    if (entries[n].fields != fields_of(chat(room, n))) {
      return "room " + std::to_string(room) + " entry " + std::to_string(n) + " is wrong";
    }
  }
  return "";
}

// Runs `turns` more loop turns (a bounded wait that asserts nothing by itself).
void run_turns(Loop& loop, int turns) {
  int n = 0;
  run_until(loop, [&] { return ++n > turns; });
}

// ---------------------------------------------------------------------------------------------
// Lifetimes around a lookup in flight.

// The sink destroyed mid-lookup, then the Loop destroyed at once, without another turn: the
// cancelled lookup is still inside evdns when the resolver goes with the Loop (ASan: no use after
// free of the sink, no leak; no LOG(FATAL) from an unmatched release_hold()).
TEST(RedisSinkDnsAttack, SinkThenLoopDestroyedMidLookupWithoutAnotherTurn) {
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.error();
  auto loop = std::make_unique<Loop>();
  auto dns = std::make_unique<ScriptedDns>(*loop);
  auto sink = std::make_unique<RedisStreamSink>(*loop, named(server, *loop, *dns));
  sink->start();
  sink->add("11", chat(11, 0));
  ASSERT_TRUE(run_until(
      *loop, [&] { return dns->held() >= 1; }, seconds(10)));
  EXPECT_FALSE(sink->connected());
  sink.reset();
  dns.reset();
  loop.reset();
  EXPECT_EQ(stream_length(server, "douyu:11"), 0);
  EXPECT_EQ(other_clients(server), 0) << "nothing connected to the server";
}

// The same with the answer already sent (sitting in the resolver's socket, unread) when the sink
// goes: the next turns read an answer for a cancelled lookup.
TEST(RedisSinkDnsAttack, DestroyedWithTheAnswerAlreadyInTheResolversSocket) {
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.error();
  Loop loop;
  ScriptedDns dns(loop);
  auto sink = std::make_unique<RedisStreamSink>(loop, named(server, loop, dns));
  sink->start();
  sink->add("12", chat(12, 0));
  ASSERT_TRUE(run_until(
      loop, [&] { return dns.held() >= 1; }, seconds(10)));
  run_turns(loop, 5);  // both queries (A and AAAA, if asked) held
  ASSERT_GE(dns.release_held(), 1);
  sink.reset();  // no turn between the answer's sendto() and the destruction
  dns.close();
  Watchdog watchdog(loop, seconds(20));
  loop.loop();
  EXPECT_FALSE(watchdog.fired()) << "loop() did not return: the cancelled lookup's hold stays";
  EXPECT_EQ(stream_length(server, "douyu:12"), 0);
  EXPECT_EQ(other_clients(server), 0);
}

// flush() times out while the lookup waits; done destroys the sink (as the CLI does); then the
// Loop is destroyed at once, without another turn.
TEST(RedisSinkDnsAttack, SinkDestroyedInFlushDoneMidLookupThenLoopDestroyedAtOnce) {
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.error();
  auto loop = std::make_unique<Loop>();
  auto dns = std::make_unique<ScriptedDns>(*loop);
  auto sink = std::make_unique<RedisStreamSink>(*loop, named(server, *loop, *dns));
  sink->start();
  sink->add("31", chat(31, 0));
  ASSERT_TRUE(run_until(
      *loop, [&] { return dns->held() >= 1; }, seconds(10)));
  int calls = 0;
  sink->flush(milliseconds(100), [&](bool ok) {
    ++calls;
    EXPECT_FALSE(ok);
    sink.reset();
  });
  ASSERT_TRUE(run_until(
      *loop, [&] { return calls > 0; }, seconds(10)));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(sink, nullptr);
  dns->release_held();  // an answer on its way to a lookup that is gone
  dns.reset();
  loop.reset();
  EXPECT_EQ(stream_length(server, "douyu:31"), 0);
}

// 100 sinks started and destroyed before the Loop turns even once (their lookups cancelled before
// evdns sent anything, or just after): every hold taken is given back, exactly once (an extra
// release_hold() is a LOG(FATAL)); loop() returns; nothing reaches the server.
TEST(RedisSinkDnsAttack, HundredSinksStartedAndDestroyedBeforeAnyTurn) {
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.error();
  Loop loop;
  ScriptedDns dns(loop, ScriptedDns::Mode::kAnswer);
  for (int i = 0; i < 100; ++i) {
    RedisStreamSink sink(loop, named(server, loop, dns, kName, /*set_nameservers=*/i == 0));
    sink.start();
    sink.add("32", chat(32, i));
    if (i % 2 == 1) loop.poll(0);  // every other one with one turn between start and destruction
  }
  run_turns(loop, 20);  // the answers to the queries that did leave arrive, for nobody
  dns.close();
  Watchdog watchdog(loop, seconds(30));
  loop.loop();
  EXPECT_FALSE(watchdog.fired()) << "loop() did not return: a cancelled lookup's hold stays";
  EXPECT_EQ(stream_length(server, "douyu:32"), 0);
  EXPECT_EQ(other_clients(server), 0);
}

// The sink destroyed mid-lookup, the DNS server closed: once libevent lets go of the cancelled
// lookup, nothing holds the Loop, and loop() returns (it must not wait for evdns' own timeout
// either: the watchdog is far above it, the elapsed time is checked below it).
TEST(RedisSinkDnsAttack, DestroyedMidLookupTheHoldIsReleasedAndLoopReturns) {
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.error();
  Loop loop;
  ScriptedDns dns(loop);
  auto sink = std::make_unique<RedisStreamSink>(loop, named(server, loop, dns));
  sink->start();
  ASSERT_TRUE(run_until(
      loop, [&] { return dns.held() >= 1; }, seconds(10)));
  sink.reset();
  dns.close();
  const auto t0 = std::chrono::steady_clock::now();
  Watchdog watchdog(loop, seconds(30));
  loop.loop();
  EXPECT_FALSE(watchdog.fired()) << "loop() did not return after the sink went mid-lookup";
  EXPECT_LT(std::chrono::steady_clock::now() - t0, seconds(4))
      << "the cancelled lookup held the Loop until evdns gave up on its own";
}

// The sink destroyed from inside one of the Loop's callbacks (a timer, and the DNS server's own
// read handler in the turn the query arrives) while its lookup waits; then the answer comes.
TEST(RedisSinkDnsAttack, DestroyedFromALoopCallbackWhileItsLookupWaits) {
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.error();
  Loop loop;
  ScriptedDns dns(loop);
  auto sink = std::make_unique<RedisStreamSink>(loop, named(server, loop, dns));
  sink->start();
  sink->add("13", chat(13, 0));
  ASSERT_TRUE(run_until(
      loop, [&] { return dns.held() >= 1; }, seconds(10)));
  bool destroyed = false;
  loop.call_later(0, [&] {
    sink.reset();
    destroyed = true;
    dns.release_held();  // the answer leaves in the same callback
  });
  ASSERT_TRUE(run_until(loop, [&] { return destroyed; }));
  run_turns(loop, 20);
  EXPECT_EQ(stream_length(server, "douyu:13"), 0);
  EXPECT_EQ(other_clients(server), 0);

  // Second sink: destroyed inside the DNS server's handle_read, in the turn its query arrives.
  auto sink2 = std::make_unique<RedisStreamSink>(
      loop, named(server, loop, dns, kName, /*set_nameservers=*/false));
  dns.set_mode(ScriptedDns::Mode::kAnswer);
  dns.on_query = [&](const ScriptedDns::Query&) { sink2.reset(); };
  sink2->start();
  sink2->add("14", chat(14, 0));
  ASSERT_TRUE(run_until(
      loop, [&] { return sink2 == nullptr; }, seconds(10)));
  dns.on_query = nullptr;
  dns.close();
  Watchdog watchdog(loop, seconds(20));
  loop.loop();
  EXPECT_FALSE(watchdog.fired()) << "loop() did not return after both sinks went mid-lookup";
  EXPECT_EQ(stream_length(server, "douyu:14"), 0);
}

// flush() while the lookup waits, the answer arriving before flush's timeout: everything is
// written, done(true) runs once, the sink is destroyed in done (as the CLI does), and loop()
// returns once done closed the last dispatcher.
TEST(RedisSinkDnsAttack, FlushWhileTheLookupWaitsAnswerBeforeTheTimeoutWritesAll) {
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.error();
  Loop loop;
  ScriptedDns dns(loop);
  auto sink = std::make_unique<RedisStreamSink>(loop, named(server, loop, dns));
  sink->start();
  for (int n = 0; n < 30; ++n) sink->add("15", chat(15, n));
  ASSERT_TRUE(run_until(
      loop, [&] { return dns.held() >= 1; }, seconds(10)));
  int calls = 0;
  bool all = false;
  uint64_t written = 0;
  sink->flush(seconds(15), [&](bool ok) {
    ++calls;
    all = ok;
    written = sink->written();
    sink.reset();
    dns.close();
  });
  loop.call_later(0.1, [&] {
    dns.set_mode(ScriptedDns::Mode::kAnswer);
    dns.release_held();
  });
  Watchdog watchdog(loop, seconds(30));
  loop.loop();
  EXPECT_FALSE(watchdog.fired()) << "loop() did not return after done";
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(all);
  EXPECT_EQ(written, 30u);
  EXPECT_EQ(check_room(server, 15, 30), "");
}

// flush() while the lookup waits, the answer arriving after flush's timeout: the sink is finished
// (done(false)), so the late answer connects nothing and writes nothing; later add()s are dropped.
TEST(RedisSinkDnsAttack, FlushTimedOutThenTheLateAnswerConnectsNothing) {
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.error();
  Loop loop;
  ScriptedDns dns(loop);
  RedisSinkOptions o = named(server, loop, dns);
  o.connect_timeout = seconds(10);  // the lookup outlives the flush
  RedisStreamSink sink(loop, o);
  sink.start();
  sink.add("16", chat(16, 0));
  ASSERT_TRUE(run_until(
      loop, [&] { return dns.held() >= 1; }, seconds(10)));
  int calls = 0;
  bool all = true;
  sink.flush(milliseconds(200), [&](bool ok) {
    ++calls;
    all = ok;
  });
  ASSERT_TRUE(run_until(
      loop, [&] { return calls > 0; }, seconds(10)));
  EXPECT_FALSE(all);
  EXPECT_EQ(loop.timer_count(), 0u) << "a finished sink keeps no timer";
  dns.set_mode(ScriptedDns::Mode::kAnswer);
  dns.release_held();  // answers a lookup that should have been cancelled
  run_turns(loop, 30);
  EXPECT_FALSE(sink.connected());
  EXPECT_EQ(sink.written(), 0u);
  EXPECT_EQ(other_clients(server), 0) << "a finished sink connected after a late answer";
  EXPECT_EQ(stream_length(server, "douyu:16"), 0);
  EXPECT_EQ(calls, 1);
  const uint64_t dropped = sink.dropped();
  sink.add("16", chat(16, 1));
  EXPECT_EQ(sink.dropped(), dropped + 1) << "an add() after flush's done is counted as dropped";
  const int queries = dns.queries;
  run_turns(loop, 30);
  EXPECT_EQ(dns.queries, queries) << "a finished sink looked its name up again";
  dns.close();
  Watchdog watchdog(loop, seconds(20));
  loop.loop();
  EXPECT_FALSE(watchdog.fired()) << "loop() did not return: the finished sink still holds it";
}

// The first attempt's lookup times out (cancelled); the second attempt's lookup is in flight when
// the first one's answer arrives late. The stale answer must reach nothing (no connection made on
// it); the second answer connects once; then the rest of the stale answers change nothing.
TEST(RedisSinkDnsAttack, AStaleAnswerOfATimedOutLookupReachesNothing) {
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.error();
  Loop loop;
  ScriptedDns dns(loop);
  RedisSinkOptions o = named(server, loop, dns);
  o.connect_timeout = milliseconds(300);
  o.backoff_initial = o.backoff_max = milliseconds(50);
  auto sink = std::make_unique<RedisStreamSink>(loop, o);
  dns.tagger = [&] { return static_cast<int>(sink->reconnects()); };
  sink->start();
  for (int n = 0; n < 40; ++n) sink->add("17", chat(17, n));
  // Attempt 1's queries (tag 0) are held until it times out; attempt 2's (tag >= 1) held too.
  ASSERT_TRUE(
      run_until(loop,
                [&] {
                  return dns.held_if([](const ScriptedDns::Query& q) { return q.tag == 0; }) >= 1 &&
                         dns.held_if([](const ScriptedDns::Query& q) { return q.tag >= 1; }) >= 1;
                }))
      << "reconnects " << sink->reconnects() << ", queries " << dns.queries;
  const uint64_t attempt = sink->reconnects();
  ASSERT_GE(dns.release_held([](const ScriptedDns::Query& q) { return q.tag == 0; }), 1);
  run_turns(loop, 20);
  const bool same_attempt = sink->reconnects() == attempt;
  if (same_attempt) {
    // The attempt whose lookup is in flight has not ended: the stale answer must not have
    // connected anything.
    EXPECT_FALSE(sink->connected()) << "a cancelled lookup's answer was used";
    EXPECT_EQ(other_clients(server), 0) << "a cancelled lookup's answer was connected to";
  }
  dns.set_mode(ScriptedDns::Mode::kAnswer);
  dns.release_held();
  ASSERT_TRUE(run_until(loop, [&] { return sink->written() == 40; }))
      << "written " << sink->written() << ", reconnects " << sink->reconnects();
  EXPECT_EQ(other_clients(server), 1) << "exactly one connection";
  EXPECT_EQ(sink->duplicates(), 0u);
  EXPECT_EQ(check_room(server, 17, 40), "");
  const uint64_t reconnects = sink->reconnects();
  run_turns(loop, 20);
  EXPECT_EQ(sink->reconnects(), reconnects) << "the late answers disturbed a healthy connection";
  dns.tagger = nullptr;
  sink.reset();
}

// ---------------------------------------------------------------------------------------------
// Address lists.

// Two refusing addresses (nothing listens on 127.0.0.2/.3 at the port: Redis binds 127.0.0.1),
// then the real one: all in one attempt, in order.
TEST(RedisSinkDnsAttack, TwoRefusingAddressesThenTheRealOneInOneAttempt) {
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.error();
  Loop loop;
  ScriptedDns dns(loop, ScriptedDns::Mode::kAnswer);
  dns.set_ipv4(kName, {{127, 0, 0, 2}, {127, 0, 0, 3}, {127, 0, 0, 1}});
  RedisStreamSink sink(loop, named(server, loop, dns));
  sink.start();
  for (int n = 0; n < 25; ++n) sink.add("18", chat(18, n));
  ASSERT_TRUE(run_until(loop, [&] { return sink.written() == 25; }))
      << "written " << sink.written() << ", reconnects " << sink.reconnects();
  EXPECT_EQ(sink.reconnects(), 0u) << "a refusing address cost a whole attempt";
  EXPECT_EQ(check_room(server, 18, 25), "");
}

// A long answer (30 refusing addresses, then the real one): still one attempt.
TEST(RedisSinkDnsAttack, ThirtyRefusingAddressesThenTheRealOne) {
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.error();
  Loop loop;
  ScriptedDns dns(loop, ScriptedDns::Mode::kAnswer);
  std::vector<Ipv4> ips;
  for (unsigned char i = 0; i < 30; ++i)
    ips.push_back({127, 0, 1, static_cast<unsigned char>(i + 1)});
  ips.push_back({127, 0, 0, 1});
  dns.set_ipv4(kName, ips);
  RedisStreamSink sink(loop, named(server, loop, dns));
  sink.start();
  for (int n = 0; n < 5; ++n) sink.add("19", chat(19, n));
  ASSERT_TRUE(run_until(loop, [&] { return sink.written() == 5; }))
      << "written " << sink.written() << ", reconnects " << sink.reconnects();
  EXPECT_EQ(sink.reconnects(), 0u);
  EXPECT_EQ(check_room(server, 19, 5), "");
}

// An IPv6 address (::1, where Redis does not listen) and an IPv4 one: whichever order evdns
// gives them in, the attempt reaches Redis.
TEST(RedisSinkDnsAttack, AnIpv6AddressThatRefusesDoesNotHideTheIpv4One) {
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.error();
  Loop loop;
  ScriptedDns dns(loop, ScriptedDns::Mode::kAnswer);
  Ipv6 loop6{};
  loop6[15] = 1;
  dns.set_ipv6(kName, {loop6});
  RedisStreamSink sink(loop, named(server, loop, dns));
  sink.start();
  for (int n = 0; n < 5; ++n) sink.add("20", chat(20, n));
  ASSERT_TRUE(run_until(loop, [&] { return sink.written() == 5; }))
      << "written " << sink.written() << ", reconnects " << sink.reconnects();
  EXPECT_EQ(sink.reconnects(), 0u);
}

// Every address refuses (the server is down): retried with backoff, looked up again each time,
// never fatal, nothing lost; then the server comes back on the same port and everything is
// written once, in order.
TEST(RedisSinkDnsAttack, OnlyRefusingAddressesRetriedThenTheServerAppears) {
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.error();
  ASSERT_TRUE(server.shutdown());
  Loop loop;
  ScriptedDns dns(loop, ScriptedDns::Mode::kAnswer);
  dns.set_ipv4(kName, {{127, 0, 0, 2}, {127, 0, 0, 1}});
  RedisStreamSink sink(loop, named(server, loop, dns));
  sink.start();
  for (int n = 0; n < 50; ++n) sink.add("21", chat(21, n));
  ASSERT_TRUE(
      run_until(loop, [&] { return sink.reconnects() >= 3 && dns.queries_for[kName] >= 4; }))
      << "reconnects " << sink.reconnects() << ", queries " << dns.queries;
  EXPECT_FALSE(sink.connected());
  EXPECT_EQ(sink.failure(), "");
  EXPECT_EQ(sink.backlog(), 50u);
  EXPECT_EQ(sink.dropped(), 0u);
  ASSERT_TRUE(server.restart()) << server.error();
  for (int n = 50; n < 60; ++n) sink.add("21", chat(21, n));
  ASSERT_TRUE(run_until(loop, [&] { return sink.written() == 60; }))
      << "written " << sink.written() << ", reconnects " << sink.reconnects();
  EXPECT_EQ(sink.duplicates(), 0u);
  EXPECT_EQ(check_room(server, 21, 60), "");
}

// The name's answer changes between attempts (DNS fail-over): only a refusing address first, then
// the real one. "Looked up again on every attempt" means the new answer is used.
TEST(RedisSinkDnsAttack, ANewAnswerIsUsedOnTheNextAttempt) {
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.error();
  Loop loop;
  ScriptedDns dns(loop, ScriptedDns::Mode::kAnswer);
  dns.set_ipv4(kName, {{127, 0, 0, 2}});
  RedisStreamSink sink(loop, named(server, loop, dns));
  sink.start();
  for (int n = 0; n < 10; ++n) sink.add("22", chat(22, n));
  ASSERT_TRUE(run_until(loop, [&] { return sink.reconnects() >= 2; }));
  EXPECT_EQ(sink.written(), 0u);
  dns.set_ipv4(kName, {{127, 0, 0, 1}});
  ASSERT_TRUE(run_until(loop, [&] { return sink.written() == 10; }))
      << "written " << sink.written() << ", reconnects " << sink.reconnects();
  EXPECT_EQ(check_room(server, 22, 10), "");
}

// A name that exists but has no address (an empty NOERROR answer, not NXDOMAIN): retried, never
// fatal, nothing lost; once it has one, everything is written.
TEST(RedisSinkDnsAttack, ANameWithNoAddressIsRetriedNotFatal) {
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.error();
  Loop loop;
  ScriptedDns dns(loop, ScriptedDns::Mode::kAnswer);
  dns.set_ipv4(kName, {});
  RedisStreamSink sink(loop, named(server, loop, dns));
  sink.start();
  for (int n = 0; n < 10; ++n) sink.add("23", chat(23, n));
  ASSERT_TRUE(
      run_until(loop, [&] { return sink.reconnects() >= 2 && dns.queries_for[kName] >= 3; }))
      << "reconnects " << sink.reconnects() << ", queries " << dns.queries;
  EXPECT_EQ(sink.failure(), "");
  EXPECT_EQ(sink.backlog(), 10u);
  dns.set_ipv4(kName, {{127, 0, 0, 1}});
  ASSERT_TRUE(run_until(loop, [&] { return sink.written() == 10; }));
  EXPECT_EQ(check_room(server, 23, 10), "");
}

// ---------------------------------------------------------------------------------------------
// AUTH and SELECT with a named target.

TEST(RedisSinkDnsAttack, PasswordAndDbWithANamedTarget) {
  RedisServer server("dns-secret");
  ASSERT_TRUE(server.start()) << server.error();
  Loop loop;
  ScriptedDns dns(loop);
  RedisSinkOptions o = named(server, loop, dns);
  o.target.db = 5;
  RedisStreamSink sink(loop, o);
  sink.start();
  for (int n = 0; n < 12; ++n) sink.add("24", chat(24, n));
  ASSERT_TRUE(run_until(
      loop, [&] { return dns.held() >= 1; }, seconds(10)));
  dns.set_mode(ScriptedDns::Mode::kAnswer);
  dns.release_held();
  ASSERT_TRUE(run_until(loop, [&] { return sink.written() == 12; }))
      << "written " << sink.written() << ", failure " << sink.failure();
  EXPECT_EQ(stream_length(server, "douyu:24"), 0) << "written to db 0, SELECT skipped";
  auto c = server.connect(seconds(5));
  ASSERT_TRUE(c);
  RedisReplyPtr sel = RedisServer::command_on(c.get(), {"SELECT", "5"});
  ASSERT_TRUE(sel && sel->type == REDIS_REPLY_STATUS);
  RedisReplyPtr len = RedisServer::command_on(c.get(), {"XLEN", "douyu:24"});
  ASSERT_TRUE(len && len->type == REDIS_REPLY_INTEGER);
  EXPECT_EQ(len->integer, 12);
}

// A wrong password with a named target is still fatal after the lookup: failure() names the port
// and AUTH, never the password; no retry, no more lookups; flush() answers false at once.
TEST(RedisSinkDnsAttack, AWrongPasswordWithANamedTargetIsFatalAndStopsLookingUp) {
  RedisServer server("the-right-dns-pass");
  ASSERT_TRUE(server.start()) << server.error();
  Loop loop;
  ScriptedDns dns(loop, ScriptedDns::Mode::kAnswer);
  RedisSinkOptions o = named(server, loop, dns);
  o.target.password = "wrong-dns-pass-77";
  RedisStreamSink sink(loop, o);
  sink.start();
  sink.add("25", chat(25, 0));
  ASSERT_TRUE(run_until(loop, [&] { return !sink.failure().empty(); }))
      << "reconnects " << sink.reconnects() << ", queries " << dns.queries;
  const std::string failure = sink.failure();
  EXPECT_NE(failure.find("AUTH failed"), std::string::npos) << failure;
  EXPECT_NE(failure.find(std::to_string(server.port())), std::string::npos) << failure;
  EXPECT_EQ(failure.find("wrong-dns-pass-77"), std::string::npos) << failure;
  EXPECT_EQ(failure.find("the-right-dns-pass"), std::string::npos) << failure;
  EXPECT_EQ(sink.reconnects(), 0u);
  const int queries = dns.queries;
  run_turns(loop, 50);
  EXPECT_EQ(dns.queries, queries) << "a fatal failure went on looking the name up";
  EXPECT_EQ(loop.timer_count(), 0u);
  bool called = false, ok = true;
  sink.flush(seconds(10), [&](bool all) {
    called = true;
    ok = all;
  });
  EXPECT_TRUE(called);
  EXPECT_FALSE(ok);
  dns.close();
  Watchdog watchdog(loop, seconds(20));
  loop.loop();
  EXPECT_FALSE(watchdog.fired());
}

// ---------------------------------------------------------------------------------------------
// Many sinks, one resolver.

// 40 sinks on one Loop (one evdns base: more requests than evdns sends at once, so some wait in
// its queue), each with its own name, all held. A third are destroyed mid-lookup (some of those
// queued inside evdns), one name refuses, the rest are answered one by one in reverse order:
// each answer reaches its own sink only. Then every sink flushes and loop() returns.
TEST(RedisSinkDnsAttack, FortySinksOnOneResolverEachGetsItsOwnAnswer) {
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.error();
  Loop loop;
  ScriptedDns dns(loop);
  constexpr int kSinks = 40;
  auto name_of = [](int i) { return "s" + std::to_string(i) + ".attack.test"; };
  std::vector<std::unique_ptr<RedisStreamSink>> sinks;
  for (int i = 0; i < kSinks; ++i) {
    RedisSinkOptions o = named(server, loop, dns, name_of(i), /*set_nameservers=*/i == 0);
    o.connect_timeout = seconds(30);  // the lookups stay held as long as the test wants
    sinks.push_back(std::make_unique<RedisStreamSink>(loop, o));
    sinks.back()->start();
    for (int n = 0; n < 5; ++n) sinks.back()->add(std::to_string(100 + i), chat(100 + i, n));
  }
  const int refusing = kSinks - 2;  // 38: not among the destroyed (i % 3 == 0)
  dns.set_ipv4(name_of(refusing), {{127, 0, 0, 4}});
  run_turns(loop, 30);
  EXPECT_GE(dns.held(), 20u) << "the lookups did not reach the DNS server";
  for (int i = 0; i < kSinks; i += 3) sinks[i].reset();  // some held, some maybe queued in evdns
  for (int i = kSinks - 1; i >= 0; --i) {
    if (!sinks[i]) continue;
    ASSERT_TRUE(run_until(loop, [&] { return dns.held_for(name_of(i)) >= 1; }))
        << "sink " << i << "'s lookup never reached the DNS server";
    dns.release(name_of(i));
    if (i == refusing) {
      ASSERT_TRUE(run_until(loop, [&] { return sinks[i]->reconnects() >= 1; }));
      EXPECT_FALSE(sinks[i]->connected());
      continue;
    }
    ASSERT_TRUE(run_until(loop, [&] { return sinks[i]->written() == 5; }))
        << "sink " << i << ": written " << sinks[i]->written();
    for (int j = 0; j < i; ++j) {
      if (sinks[j]) {
        EXPECT_FALSE(sinks[j]->connected()) << "sink " << j << " got sink " << i << "'s answer";
      }
    }
  }
  for (int i = 0; i < kSinks; ++i) {
    if (i == refusing) continue;
    EXPECT_EQ(stream_length(server, "douyu:" + std::to_string(100 + i)), sinks[i] ? 5 : 0) << i;
  }
  EXPECT_FALSE(sinks[refusing]->connected());
  EXPECT_EQ(sinks[refusing]->failure(), "");
  // Shutdown: every live sink flushes; the last done closes the DNS server; loop() returns.
  int live = 0, ok = 0;
  for (auto& s : sinks) live += s != nullptr;
  int pending = live;  // done may run inside flush() (everything already written)
  for (auto& s : sinks) {
    if (!s) continue;
    s->flush(milliseconds(500), [&](bool all) {
      ok += all;
      if (--pending == 0) dns.close();
    });
  }
  Watchdog watchdog(loop, seconds(30));
  loop.loop();
  EXPECT_FALSE(watchdog.fired()) << "loop() did not return after every sink flushed";
  EXPECT_EQ(pending, 0);
  EXPECT_EQ(ok, live - 1) << "all but the refusing sink wrote everything";
}

// ---------------------------------------------------------------------------------------------
// Threads.

// add() from four threads while lookups come and go: NXDOMAIN answers (attempts fail at the
// lookup), then answers (connected), then the connection is killed and the new lookup held, then
// released. Every room's messages are written once each, in order. Run under TSan.
TEST(RedisSinkDnsAttack, AddFromFourThreadsWhileLookupsComeAndGo) {
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.error();
  Loop loop;
  ScriptedDns dns(loop, ScriptedDns::Mode::kNxdomain);
  RedisStreamSink sink(loop, named(server, loop, dns));
  sink.start();
  constexpr int kThreads = 4, kPerPhase = 1000;
  std::atomic<int> phase{0};
  std::atomic<int> batches_done[4] = {0, 0, 0, 0};
  std::vector<std::thread> producers;
  for (int t = 0; t < kThreads; ++t) {
    producers.emplace_back([&, t] {
      int n = 0;
      for (int p = 1; p <= 3; ++p) {
        while (phase.load() < p) std::this_thread::yield();  // waits for the main thread's word
        for (int i = 0; i < kPerPhase; ++i, ++n)
          sink.add(std::to_string(200 + t), chat(200 + t, n));
        ++batches_done[p];
      }
    });
  }
  phase = 1;  // lookups fail (NXDOMAIN) while the producers add
  const bool p1 =
      run_until(loop, [&] { return sink.reconnects() >= 3 && batches_done[1] == kThreads; });
  EXPECT_TRUE(p1) << "reconnects " << sink.reconnects() << ", queries " << dns.queries;
  EXPECT_EQ(sink.written(), 0u);
  dns.set_mode(ScriptedDns::Mode::kAnswer);
  phase = 2;  // the next lookup is answered: connected, writing while the producers add
  const bool p2 = run_until(
      loop, [&] { return batches_done[2] == kThreads && sink.written() >= 2 * kPerPhase; });
  EXPECT_TRUE(p2) << "written " << sink.written();
  dns.set_mode(ScriptedDns::Mode::kHold);
  const int queries = dns.queries;
  RedisReplyPtr killed = server.command({"CLIENT", "KILL", "TYPE", "normal"});
  EXPECT_TRUE(killed && killed->type == REDIS_REPLY_INTEGER && killed->integer >= 1);
  phase = 3;  // the reconnect's lookup is held while the producers add
  const bool p3 =
      run_until(loop, [&] { return dns.queries > queries && batches_done[3] == kThreads; });
  EXPECT_TRUE(p3) << "queries " << dns.queries << " (before the kill " << queries << ")";
  EXPECT_FALSE(sink.connected());
  dns.set_mode(ScriptedDns::Mode::kAnswer);
  dns.release_held();
  for (auto& p : producers) p.join();
  const uint64_t total = kThreads * 3 * kPerPhase;
  ASSERT_TRUE(run_until(loop, [&] { return sink.written() == total; }))
      << "written " << sink.written() << ", backlog " << sink.backlog() << ", dropped "
      << sink.dropped();
  EXPECT_EQ(sink.dropped(), 0u);
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(check_room(server, 200 + t, 3 * kPerPhase), "");
}

// ---------------------------------------------------------------------------------------------
// Numeric targets and /etc/hosts.

// "127.0.0.1": no DNS query at all, written as before.
TEST(RedisSinkDnsAttack, NumericIpv4TargetAsksNoDnsServer) {
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.error();
  Loop loop;
  ScriptedDns dns(loop, ScriptedDns::Mode::kNxdomain);
  RedisSinkOptions o = named(server, loop, dns, "127.0.0.1");
  RedisStreamSink sink(loop, o);
  sink.start();
  for (int n = 0; n < 10; ++n) sink.add("26", chat(26, n));
  ASSERT_TRUE(run_until(loop, [&] { return sink.written() == 10; }));
  EXPECT_EQ(dns.queries, 0) << "a numeric address was looked up";
  EXPECT_EQ(sink.reconnects(), 0u);
}

// "::1": Redis (the fixture binds 127.0.0.1) refuses there: a clean retry with backoff, no DNS
// query, never fatal, nothing lost, and a flush that ends the retries lets loop() return.
TEST(RedisSinkDnsAttack, NumericIpv6TargetWhereNothingListensIsRetriedCleanly) {
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.error();
  Loop loop;
  ScriptedDns dns(loop, ScriptedDns::Mode::kNxdomain);
  RedisSinkOptions o = named(server, loop, dns, "::1");
  RedisStreamSink sink(loop, o);
  sink.start();
  for (int n = 0; n < 10; ++n) sink.add("27", chat(27, n));
  ASSERT_TRUE(run_until(loop, [&] { return sink.reconnects() >= 3; }));
  EXPECT_EQ(dns.queries, 0) << "a numeric IPv6 address was looked up";
  EXPECT_FALSE(sink.connected());
  EXPECT_EQ(sink.failure(), "");
  EXPECT_EQ(sink.backlog(), 10u);
  bool called = false, all = true;
  sink.flush(milliseconds(200), [&](bool ok) {
    called = true;
    all = ok;
    dns.close();
  });
  Watchdog watchdog(loop, seconds(20));
  loop.loop();
  EXPECT_FALSE(watchdog.fired());
  EXPECT_TRUE(called);
  EXPECT_FALSE(all);
}

// "localhost" comes from /etc/hosts even with set_dns_nameservers() (the DNS server here answers
// NXDOMAIN to everything): connected, and the DNS server never asked.
TEST(RedisSinkDnsAttack, LocalhostComesFromEtcHosts) {
  std::ifstream hosts("/etc/hosts");
  std::string line;
  bool listed = false;
  while (std::getline(hosts, line)) {
    if (line.rfind("127.0.0.1", 0) == 0 && line.find("localhost") != std::string::npos)
      listed = true;
  }
  if (!listed) {
    GTEST_SKIP() << "/etc/hosts does not map localhost to 127.0.0.1";
  }
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.error();
  Loop loop;
  ScriptedDns dns(loop, ScriptedDns::Mode::kNxdomain);
  RedisStreamSink sink(loop, named(server, loop, dns, "localhost"));
  sink.start();
  for (int n = 0; n < 10; ++n) sink.add("28", chat(28, n));
  ASSERT_TRUE(run_until(loop, [&] { return sink.written() == 10; }))
      << "reconnects " << sink.reconnects() << ", DNS queries " << dns.queries;
  EXPECT_EQ(dns.queries_for["localhost"], 0) << "/etc/hosts was not consulted first";
}

// ---------------------------------------------------------------------------------------------
// loop() returning.

// A named target, connected and idle: the finished lookup holds nothing, no timer is left, so with
// the DNS server closed loop() returns while the sink is connected.
TEST(RedisSinkDnsAttack, AfterASuccessfulLookupNothingHoldsTheLoop) {
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.error();
  Loop loop;
  ScriptedDns dns(loop, ScriptedDns::Mode::kAnswer);
  dns.set_ipv4(kName, {{127, 0, 0, 2}, {127, 0, 0, 1}});
  RedisStreamSink sink(loop, named(server, loop, dns));
  sink.start();
  for (int n = 0; n < 10; ++n) sink.add("29", chat(29, n));
  ASSERT_TRUE(run_until(loop, [&] { return sink.written() == 10; }));
  ASSERT_TRUE(sink.connected());
  EXPECT_EQ(loop.timer_count(), 0u) << "a connected, idle sink keeps a timer";
  dns.close();
  Watchdog watchdog(loop, seconds(20));
  loop.loop();
  EXPECT_FALSE(watchdog.fired()) << "loop() did not return: the answered lookup's hold stays";
  EXPECT_TRUE(sink.connected());
}

// flush()'s done closes the last dispatcher in the map (and destroys the sink) after a named
// connection wrote everything: loop() returns.
TEST(RedisSinkDnsAttack, LoopReturnsWhenFlushDoneClosesTheLastDispatcher) {
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.error();
  Loop loop;
  ScriptedDns dns(loop, ScriptedDns::Mode::kAnswer);
  auto sink = std::make_unique<RedisStreamSink>(loop, named(server, loop, dns));
  sink->start();
  for (int n = 0; n < 200; ++n) sink->add("30", chat(30, n));
  int calls = 0;
  bool all = false;
  sink->flush(seconds(15), [&](bool ok) {
    ++calls;
    all = ok;
    dns.close();
    sink.reset();
  });
  Watchdog watchdog(loop, seconds(30));
  loop.loop();
  EXPECT_FALSE(watchdog.fired()) << "loop() did not return after done";
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(all);
  EXPECT_EQ(check_room(server, 30, 200), "");
}

}  // namespace
}  // namespace asyncore::redis::testing

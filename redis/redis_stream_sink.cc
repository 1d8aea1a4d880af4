#include "redis/redis_stream_sink.h"

#include <event2/dns.h>
#include <event2/util.h>
#include <glog/logging.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/address.h"
#include "core/backoff.h"
#include "core/loop.h"
#include "redis/redis_errors.h"
#include "redis/stream_id.h"

namespace asyncore::redis {
namespace {

using std::chrono::milliseconds;

double seconds(milliseconds ms) { return static_cast<double>(ms.count()) / 1000.0; }

uint64_t now_ms() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

std::string replace_all(std::string text, std::string_view from, std::string_view to) {
  for (size_t pos = text.find(from); pos != std::string::npos;
       pos = text.find(from, pos + to.size())) {
    text.replace(pos, from.size(), to);
  }
  return text;
}

// The handshake step a reply answers (its privdata).
enum class Step : uintptr_t { kAuth = 1, kSelect, kPing };
void* step_tag(Step s) { return reinterpret_cast<void*>(static_cast<uintptr_t>(s)); }

}  // namespace

struct Stream;

// One message on its way: its fields' bytes back to back (key, value, key, value ...).
struct Entry {
  Stream* stream = nullptr;
  StreamId id;
  bool retry = false;  // was in flight when a connection broke: Redis may already hold it
  std::string blob;
  std::vector<uint32_t> sizes;
};

struct Stream {
  std::string key;
  std::optional<StreamId> last;  // the id generator; guarded by Impl::mutex_
  // Loop thread only: waiting for XINFO after a first attempt found newer ids (see the header).
  bool rebasing = false;
  std::vector<Entry> held;
};

struct RedisStreamSink::Impl {
  enum class State { kIdle, kConnecting, kReady, kBackoff, kFailed, kFinished };

  Impl(Loop& l, RedisSinkOptions o)
      : loop(l),
        options(std::move(o)),
        backoff(options.backoff_initial, options.backoff_max),
        maxlen_text(std::to_string(options.maxlen)),
        in_flight_cap(std::max<size_t>(
            1, std::min(options.max_in_flight, std::max<size_t>(1, options.buffer_limit)))) {}

  ~Impl() {
    life.reset();
    cancel_timers();
    release_hold();
    close_connection();
    const uint64_t left = backlog.load();
    if (left > 0) {
      LOG(WARNING) << name() << ": sink destroyed with " << left << " messages not acknowledged";
    }
  }

  std::string name() const { return "redis " + options.target.redacted(); }

  // ------------------------------------------------------------------ add (any thread)

  void add(std::string_view room_id, const douyu::Message& m) {
    wait_for_room();
    if (m.empty()) {
      const uint64_t n = rejected.fetch_add(1) + 1;
      if (n == 1 || n % 1000 == 0)
        LOG(ERROR) << name() << ": a message of room " << room_id
                   << " has no field; XADD needs one: not written (" << n << " so far)";
      return;
    }
    Entry e;
    size_t bytes = 0;
    for (auto [k, v] : m.fields()) bytes += k.size() + v.size();
    e.blob.reserve(bytes);
    e.sizes.reserve(m.size() * 2);
    for (auto [k, v] : m.fields()) {
      e.blob.append(k);
      e.blob.append(v);
      e.sizes.push_back(static_cast<uint32_t>(k.size()));
      e.sizes.push_back(static_cast<uint32_t>(v.size()));
    }
    uint64_t dropped_now = 0;
    const uint64_t now = now_ms();
    {
      std::lock_guard lock(mutex_);
      if (finished.load()) {
        dropped_now = 1;
      } else {
        Stream* s = stream_for(room_id);
        e.stream = s;
        e.id = next_stream_id(s->last, now);
        s->last = e.id;
        waiting.push_back(std::move(e));
        backlog.fetch_add(1);
        // The bound: oldest not yet sent first (the loop side holds what is in flight).
        while (waiting.size() + loop_side.load() > options.buffer_limit && !waiting.empty()) {
          waiting.pop_front();
          backlog.fetch_sub(1);
          ++dropped_now;
        }
      }
    }
    if (dropped_now > 0) count_drops(dropped_now, finished.load() ? "add() after flush()" : "");
    schedule_drain();
  }

  // BACK-PRESSURE (header): a producer thread waits while Redis is connected and behind.
  bool must_wait() const {
    return connected_flag.load() && !finished.load() && !no_waiting.load() &&
           backlog.load() >= std::max<size_t>(1, options.buffer_limit / 2);
  }
  void wait_for_room() {
    if (!must_wait() || loop.in_loop_thread()) return;
    std::unique_lock lock(room_mutex);
    waiters.fetch_add(1);
    while (must_wait()) room_cv.wait_for(lock, std::chrono::milliseconds(100));
    waiters.fetch_sub(1);
  }
  // After the backlog fell, or a reason to wait ended (disconnected, finished, stop_waiting).
  void wake_waiters() {
    if (waiters.load() == 0) return;
    { std::lock_guard lock(room_mutex); }  // a waiter is either before its check or in wait
    room_cv.notify_all();
  }
  void stop_waiting() {
    no_waiting.store(true);
    wake_waiters();
  }

  // One Stream (one id generator, one order) per stream KEY: rooms whose names the template maps
  // to one key (a template without {rid}) share it, so their entries keep add() order there.
  Stream* stream_for(std::string_view room_id) {  // mutex_ held
    auto it = stream_of_room.find(std::string(room_id));
    if (it != stream_of_room.end()) return it->second;
    std::string key = replace_all(options.stream_template, "{rid}", room_id);
    std::unique_ptr<Stream>& owned = streams[key];
    if (!owned) {
      owned = std::make_unique<Stream>();
      owned->key = std::move(key);
    }
    stream_of_room.emplace(std::string(room_id), owned.get());
    return owned.get();
  }

  void count_drops(uint64_t n, std::string_view why) {
    const uint64_t total = dropped.fetch_add(n) + n;
    const int64_t now = static_cast<int64_t>(now_ms());
    int64_t next = next_drop_log_ms.load();
    if (now >= next && next_drop_log_ms.compare_exchange_strong(next, now + 1000)) {
      LOG(ERROR) << name() << ": "
                 << (why.empty() ? "buffer full (" + std::to_string(options.buffer_limit) +
                                       " messages unacknowledged): dropped the oldest unsent"
                                 : std::string(why) + ": not written")
                 << "; " << total << " messages dropped so far";
    }
  }

  void schedule_drain() {
    if (drain_scheduled.exchange(true)) return;
    loop.call_soon_threadsafe([this, alive = std::weak_ptr<char>(life)] {
      if (!alive.lock()) return;  // destroyed since
      drain_scheduled.store(false);
      pump();
      check_flush_done();
    });
  }

  // ------------------------------------------------------------------ writing (loop thread)

  void pump() {
    if (state != State::kReady || ac == nullptr) return;
    std::vector<Entry> batch;
    {
      std::lock_guard lock(mutex_);
      while (inflight.size() + batch.size() < in_flight_cap && !waiting.empty()) {
        batch.push_back(std::move(waiting.front()));
        waiting.pop_front();
      }
      loop_side.fetch_add(batch.size());
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      Entry& e = batch[i];
      if (e.stream->rebasing) {
        e.stream->held.push_back(std::move(e));
      } else if (!send(e)) {
        // hiredis refused (it is closing): these were never sent; they wait again, in order,
        // behind what the lost connection requeues (older, per stream).
        {
          std::lock_guard lock(mutex_);
          for (size_t j = batch.size(); j-- > i;) waiting.push_front(std::move(batch[j]));
          loop_side.fetch_sub(batch.size() - i);
        }
        drop_connection("hiredis refused a command: " +
                        std::string(ac && ac->errstr[0] ? ac->errstr : "context closing"));
        return;
      }
    }
  }

  // False when hiredis refused the command (e is left untouched).
  bool send(Entry& e) {
    const std::string id = e.id.to_string();
    argv.clear();
    lens.clear();
    auto push = [&](const char* p, size_t n) {
      argv.push_back(p);
      lens.push_back(n);
    };
    push("XADD", 4);
    push(e.stream->key.data(), e.stream->key.size());
    if (options.maxlen > 0) {
      push("MAXLEN", 6);
      push("~", 1);
      push(maxlen_text.data(), maxlen_text.size());
    }
    push(id.data(), id.size());
    size_t offset = 0;
    for (uint32_t size : e.sizes) {
      push(e.blob.data() + offset, size);
      offset += size;
    }
    // hiredis formats the command into its output buffer now: argv need not outlive the call.
    if (redisAsyncCommandArgv(ac, &Impl::on_xadd_reply, nullptr, static_cast<int>(argv.size()),
                              argv.data(), lens.data()) != REDIS_OK) {
      return false;
    }
    inflight.push_back(std::move(e));
    return true;
  }

  static Impl* self_of(const redisAsyncContext* c) { return static_cast<Impl*>(c->data); }

  static void on_xadd_reply(redisAsyncContext* c, void* r, void*) {
    Impl* self = self_of(c);
    if (self == nullptr || r == nullptr) return;  // freed: the disconnect path requeues
    self->on_xadd(static_cast<redisReply*>(r));
  }

  void on_xadd(redisReply* reply) {
    Entry e = std::move(inflight.front());
    inflight.pop_front();
    if (reply->type != REDIS_REPLY_ERROR) {
      acknowledged(1);
    } else {
      const std::string_view error(reply->str, reply->len);
      if (is_id_too_small_error(error) && e.retry) {
        duplicates.fetch_add(1);  // applied before the connection broke
        acknowledged(1);
      } else if (is_id_too_small_error(error)) {
        Stream* s = e.stream;
        s->held.push_back(std::move(e));
        if (!s->rebasing) start_rebase(s);
      } else if (is_transient_error(error) || is_auth_error(error)) {
        // Resent on the next connection (the handshake tells a fatal AUTH problem apart).
        failed.push_back(std::move(e));
        drop_connection(std::string(error));
        check_flush_done();
        return;
      } else {
        loop_side.fetch_sub(1);
        backlog.fetch_sub(1);
        LOG_EVERY_N(ERROR, 100) << name() << ": XADD " << e.stream->key << " " << e.id.to_string()
                                << " refused: " << error << "; message dropped";
        count_drops(1, "Redis refused an entry");
      }
    }
    pump();
    check_flush_done();  // last: done() may destroy the sink
  }

  void acknowledged(uint64_t n) {
    loop_side.fetch_sub(n);
    backlog.fetch_sub(n);
    written.fetch_add(n);
    wake_waiters();
  }

  void start_rebase(Stream* s) {
    s->rebasing = true;
    LOG(WARNING) << name() << ": stream " << s->key << " already holds ids at or above "
                 << s->held.back().id.to_string()
                 << " (the clock went back, or another writer): reading its last id, "
                    "writing the rest above it, in order";
    const char* args[] = {"XINFO", "STREAM", s->key.data()};
    const size_t sizes[] = {5, 6, s->key.size()};
    if (redisAsyncCommandArgv(ac, &Impl::on_xinfo_reply, s, 3, args, sizes) != REDIS_OK) {
      drop_connection("hiredis refused XINFO");
    }
  }

  static void on_xinfo_reply(redisAsyncContext* c, void* r, void* privdata) {
    Impl* self = self_of(c);
    if (self == nullptr || r == nullptr) return;
    self->on_xinfo(static_cast<Stream*>(privdata), static_cast<redisReply*>(r));
    // on_xinfo ends with pump(); nothing was acknowledged, so no flush check is needed.
  }

  void on_xinfo(Stream* s, redisReply* reply) {
    std::optional<StreamId> top;
    if (reply->type == REDIS_REPLY_ARRAY) {
      for (size_t i = 0; i + 1 < reply->elements; i += 2) {
        const redisReply* k = reply->element[i];
        const redisReply* v = reply->element[i + 1];
        if (k->type == REDIS_REPLY_STRING &&
            std::string_view(k->str, k->len) == "last-generated-id" &&
            (v->type == REDIS_REPLY_STRING || v->type == REDIS_REPLY_STATUS)) {
          top = StreamId::parse(std::string_view(v->str, v->len));
        }
      }
    }
    if (!top) {
      LOG(WARNING) << name() << ": XINFO STREAM " << s->key << " gave no last id ("
                   << (reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply")
                   << "); new ids from the clock";
    }
    std::stable_sort(s->held.begin(), s->held.end(),
                     [](const Entry& a, const Entry& b) { return a.id < b.id; });
    const uint64_t now = now_ms();
    {
      std::lock_guard lock(mutex_);
      if (top && (!s->last || *s->last < *top)) s->last = top;
      auto reid = [&](Entry& e) {
        if (e.retry) return;  // may be in Redis under its id: never give it another
        e.id = next_stream_id(s->last, now);
        s->last = e.id;
      };
      for (Entry& e : s->held) reid(e);
      for (Entry& e : waiting) {
        if (e.stream == s) reid(e);
      }
      for (auto it = s->held.rbegin(); it != s->held.rend(); ++it) {
        waiting.push_front(std::move(*it));
      }
      loop_side.fetch_sub(s->held.size());
    }
    LOG(WARNING) << name() << ": stream " << s->key << " continues above "
                 << (top ? top->to_string() : "?") << " with " << s->held.size()
                 << " messages given new ids";
    s->held.clear();
    s->rebasing = false;
    pump();
  }

  // ------------------------------------------------------------------ connection (loop thread)

  void connect_now() {
    if (state == State::kFailed || state == State::kFinished) return;
    state = State::kConnecting;
    // One deadline for the whole way to ready.
    connect_timer = loop.call_later(seconds(options.connect_timeout), [this] {
      connect_timer = 0;
      drop_connection("no answer within " + std::to_string(options.connect_timeout.count()) +
                      " ms (lookup, connect, AUTH, SELECT, PING)");
    });
    const RedisTarget& t = options.target;
    if (Address::parse(t.host, t.port)) {
      addresses.assign(1, t.host);
      address_at = 0;
      connect_to(t.host);
    } else {
      look_up(t.host);
    }
  }

  // A host name is looked up with evdns on the loop, as Dispatcher::connect() does: hiredis would
  // call getaddrinfo(), which blocks the loop thread (every room's reads and heartbeats) for as
  // long as DNS takes. The lookup holds the Loop until on_resolved() frees it (a cancelled one
  // too: libevent reports the cancellation from a later turn), so ~Loop waits for it.
  void look_up(const std::string& host) {
    evdns_base* dns = nullptr;
    try {
      dns = loop.dns();
    } catch (const std::exception& e) {
      cancel(connect_timer);
      return schedule_reconnect(std::string("cannot look up ") + host + ": " + e.what());
    }
    auto* lookup = new DnsLookup{this, &loop};
    dns_lookup = lookup;
    loop.hold();
    evutil_addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    const std::string service = std::to_string(options.target.port);
    auto* request =
        evdns_getaddrinfo(dns, host.c_str(), service.c_str(), &hints, &Impl::on_resolved, lookup);
    // NULL: on_resolved() already ran (from /etc/hosts, or a failure at once).
    if (request != nullptr && dns_lookup == lookup) dns_request = request;
  }

  static void on_resolved(int result, evutil_addrinfo* res, void* arg) {
    std::unique_ptr<DnsLookup> lookup(static_cast<DnsLookup*>(arg));
    lookup->loop->release_hold();
    std::unique_ptr<evutil_addrinfo, void (*)(evutil_addrinfo*)> answer(res, &evutil_freeaddrinfo);
    if (result == EVUTIL_EAI_CANCEL) return;  // the sink closed or was destroyed meanwhile
    Impl* self = lookup->impl;
    self->dns_lookup = nullptr;
    self->dns_request = nullptr;
    if (result != 0 || res == nullptr) {
      return self->lost_connection("cannot look up " + self->options.target.host + ": " +
                                   evutil_gai_strerror(result));
    }
    self->addresses.clear();
    for (const evutil_addrinfo* a = res; a != nullptr; a = a->ai_next) {
      self->addresses.push_back(Address(a->ai_addr, static_cast<socklen_t>(a->ai_addrlen)).host());
    }
    self->address_at = 0;
    self->connect_to(self->addresses.front());
  }

  // The address tried last did not connect: the name's next one, at once (within the same
  // connect timeout); false when none is left (the attempt has failed).
  bool next_address() {
    if (state != State::kConnecting || address_at + 1 >= addresses.size()) return false;
    ++address_at;
    VLOG(1) << name() << ": " << addresses[address_at - 1] << " did not connect; trying "
            << addresses[address_at];
    connect_to(addresses[address_at]);
    return true;
  }

  void cancel_lookup() {
    if (dns_lookup == nullptr) return;
    dns_lookup = nullptr;
    if (dns_request != nullptr) {
      auto* request = dns_request;
      dns_request = nullptr;
      evdns_getaddrinfo_cancel(request);  // on_resolved(EVUTIL_EAI_CANCEL), on a later turn
    }
  }

  void connect_to(const std::string& address) {
    const RedisTarget& t = options.target;
    ac = redisAsyncConnect(address.c_str(), t.port);
    if (ac == nullptr) return lost_connection("cannot allocate a hiredis context");
    if (ac->err) {  // e.g. an IPv6 address without IPv6
      std::string reason = ac->errstr;
      redisAsyncFree(ac);
      ac = nullptr;
      if (!next_address()) lost_connection(reason);
      return;
    }
    ac->data = this;
    redisLibeventAttach(ac, loop.base());
    redisAsyncSetConnectCallback(ac, &Impl::on_connect);
    redisAsyncSetDisconnectCallback(ac, &Impl::on_disconnect);
    // hiredis queues these until the socket connects; XADDs wait for PING's answer.
    if (!t.password.empty()) {
      const char* args[] = {"AUTH", t.password.data()};
      const size_t sizes[] = {4, t.password.size()};
      redisAsyncCommandArgv(ac, &Impl::on_handshake_reply, step_tag(Step::kAuth), 2, args, sizes);
    }
    if (t.db != 0) {
      const std::string db = std::to_string(t.db);
      const char* args[] = {"SELECT", db.data()};
      const size_t sizes[] = {6, db.size()};
      redisAsyncCommandArgv(ac, &Impl::on_handshake_reply, step_tag(Step::kSelect), 2, args, sizes);
    }
    const char* ping[] = {"PING"};
    const size_t ping_size[] = {4};
    redisAsyncCommandArgv(ac, &Impl::on_handshake_reply, step_tag(Step::kPing), 1, ping, ping_size);
  }

  static void on_connect(const redisAsyncContext* c, int status) {
    Impl* self = self_of(c);
    if (self == nullptr || status == REDIS_OK) return;  // OK: PING's answer makes us ready
    // hiredis frees the context after this returns (pending replies get NULL: ignored).
    const std::string reason = c->errstr;
    const_cast<redisAsyncContext*>(c)->data = nullptr;
    self->ac = nullptr;
    if (!self->next_address()) self->lost_connection(reason);
  }

  static void on_disconnect(const redisAsyncContext* c, int) {
    Impl* self = self_of(c);
    if (self == nullptr) return;  // we freed it on purpose
    const std::string reason = c->err ? c->errstr : "the server closed the connection";
    self->ac = nullptr;  // hiredis frees it after this returns
    self->lost_connection(reason);
  }

  static void on_handshake_reply(redisAsyncContext* c, void* r, void* privdata) {
    Impl* self = self_of(c);
    if (self == nullptr || r == nullptr) return;
    self->on_handshake(static_cast<Step>(reinterpret_cast<uintptr_t>(privdata)),
                       static_cast<redisReply*>(r));
  }

  void on_handshake(Step step, redisReply* reply) {
    if (reply->type == REDIS_REPLY_ERROR) {
      const std::string error(reply->str, reply->len);
      const bool transient = is_transient_error(error);
      if (step == Step::kAuth && !transient) return fatal("AUTH failed: " + error);
      if (step == Step::kSelect && !transient) {
        return fatal("SELECT " + std::to_string(options.target.db) + " failed: " + error);
      }
      if (step == Step::kPing && is_auth_error(error)) {
        return fatal("the server wants a password (redis://:PASSWORD@HOST:PORT): " + error);
      }
      return drop_connection(error);  // LOADING and the like: later
    }
    if (step != Step::kPing) return;
    cancel(connect_timer);
    state = State::kReady;
    connected_flag.store(true);
    backoff.reset();
    if (failures_in_row > 0) {
      LOG(INFO) << name() << ": connected after " << failures_in_row << " failed attempts; "
                << backlog.load() << " messages to write";
    } else {
      LOG(INFO) << name() << ": connected";
    }
    failures_in_row = 0;
    last_reason.clear();
    pump();
    check_flush_done();
  }

  // Ends the connection on purpose (hiredis frees it now, or right after the current callback).
  void close_connection() {
    cancel_lookup();
    if (ac == nullptr) return;
    ac->data = nullptr;  // its callbacks, run with NULL replies while it is freed, do nothing
    redisAsyncFree(ac);
    ac = nullptr;
  }

  void drop_connection(const std::string& reason) {
    close_connection();
    lost_connection(reason);
  }

  // The connection is gone: everything unacknowledged waits again, in order, for the next one.
  void lost_connection(const std::string& reason) {
    cancel(connect_timer);
    connected_flag.store(false);
    wake_waiters();  // unreachable: the buffer takes the messages, nobody waits
    requeue();
    if (state == State::kFailed || state == State::kFinished) return;
    schedule_reconnect(reason);
  }

  void requeue() {
    std::vector<Entry> back;
    for (Entry& e : failed) back.push_back(std::move(e));  // known not applied: retry stays false
    for (Entry& e : inflight) {
      e.retry = true;  // unknown: Redis may have applied it
      back.push_back(std::move(e));
    }
    failed.clear();
    inflight.clear();
    std::lock_guard lock(mutex_);
    for (auto& [key, s] : streams) {
      for (Entry& e : s->held) back.push_back(std::move(e));
      s->held.clear();
      s->rebasing = false;
    }
    // Per stream, ids follow add() order: sorting by id restores each stream's order.
    std::stable_sort(back.begin(), back.end(),
                     [](const Entry& a, const Entry& b) { return a.id < b.id; });
    for (auto it = back.rbegin(); it != back.rend(); ++it) waiting.push_front(std::move(*it));
    loop_side.store(0);
  }

  void schedule_reconnect(const std::string& reason) {
    state = State::kBackoff;
    ++failures_in_row;
    const milliseconds delay = backoff.next();
    if (reason != last_reason) {
      LOG(WARNING) << name() << ": " << reason << "; retrying in " << delay.count() << " ms ("
                   << backlog.load() << " messages waiting; logged again when the reason changes)";
      last_reason = reason;
    } else {
      VLOG(1) << name() << ": " << reason << " (attempt " << failures_in_row << ")";
    }
    reconnects.fetch_add(1);
    backoff_timer = loop.call_later(seconds(delay), [this] {
      backoff_timer = 0;
      connect_now();
    });
  }

  void fatal(const std::string& what) {
    std::string text = "redis " + options.target.host_port() + ": " + what;
    if (!options.target.password.empty()) text = replace_all(text, options.target.password, "***");
    LOG(ERROR) << text << "; not retrying (" << backlog.load() << " messages stay unwritten)";
    {
      std::lock_guard lock(failure_mutex);
      failure_text = text;
    }
    state = State::kFailed;
    close_connection();
    lost_connection(what);
    check_flush_done();
  }

  // ------------------------------------------------------------------ flush (loop thread)

  void flush(milliseconds timeout, std::function<void(bool)> done) {
    if (flushing || state == State::kFinished) {
      LOG(ERROR) << name() << ": flush() called twice";
      if (done) done(false);
      return;
    }
    flushing = true;
    flush_done = std::move(done);
    flush_timeout = timeout;
    loop.hold();
    holding = true;
    flush_timer = loop.call_later(seconds(timeout), [this] {
      flush_timer = 0;
      finish_flush(false);
    });
    pump();
    check_flush_done();
  }

  void check_flush_done() {
    if (!flushing) return;
    if (backlog.load() == 0) return finish_flush(true);
    if (state == State::kFailed) return finish_flush(false);
  }

  void finish_flush(bool all_written) {
    flushing = false;
    if (!all_written) {
      size_t waiting_now;
      {
        std::lock_guard lock(mutex_);
        waiting_now = waiting.size();
      }
      LOG(ERROR) << name() << ": flush ended "
                 << (state == State::kFailed
                         ? "after a fatal error"
                         : "by its " + std::to_string(flush_timeout.count()) + " ms timeout")
                 << " with " << backlog.load() << " messages not acknowledged (" << inflight.size()
                 << " in flight, " << waiting_now << " never sent); " << written.load()
                 << " written, " << dropped.load() << " dropped";
    } else {
      LOG(INFO) << name() << ": flushed: " << written.load() << " written (" << duplicates.load()
                << " retries found already written), " << dropped.load() << " dropped";
    }
    finished.store(true);
    if (state != State::kFailed) state = State::kFinished;
    cancel_timers();
    close_connection();
    connected_flag.store(false);
    wake_waiters();
    release_hold();
    auto done = std::move(flush_done);
    flush_done = nullptr;
    if (done) done(all_written);  // last: it may destroy the sink
  }

  void cancel(TimerId& id) {
    if (id != 0) loop.cancel(id);
    id = 0;
  }
  void cancel_timers() {
    cancel(connect_timer);
    cancel(backoff_timer);
    cancel(flush_timer);
  }
  void release_hold() {
    if (holding) loop.release_hold();
    holding = false;
  }

  Loop& loop;
  const RedisSinkOptions options;
  Backoff backoff;
  const std::string maxlen_text;
  const size_t in_flight_cap;
  std::shared_ptr<char> life = std::make_shared<char>();

  // Shared with add(): guarded by mutex_.
  std::mutex mutex_;
  std::unordered_map<std::string, std::unique_ptr<Stream>> streams;  // by stream key
  std::unordered_map<std::string, Stream*> stream_of_room;           // by room id (a cache)
  std::deque<Entry> waiting;  // not sent (or to be sent again), oldest first

  // Loop thread only.
  State state = State::kIdle;
  // A host name's lookup in flight (look_up()): its record, which on_resolved() frees.
  struct DnsLookup {
    Impl* impl;  // dangling once cancelled: read only when the result is not EVUTIL_EAI_CANCEL
    Loop* loop;
  };
  DnsLookup* dns_lookup = nullptr;
  evdns_getaddrinfo_request* dns_request = nullptr;
  std::vector<std::string> addresses;  // this attempt's: the numeric host, or the name's answers
  size_t address_at = 0;               // the one connect_to() tried last
  redisAsyncContext* ac = nullptr;
  std::deque<Entry> inflight;  // sent on this connection, in send order (= reply order)
  std::vector<Entry> failed;   // refused with a transient error: sent again after a reconnect
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  TimerId connect_timer = 0, backoff_timer = 0, flush_timer = 0;
  bool flushing = false, holding = false;
  std::function<void(bool)> flush_done;
  milliseconds flush_timeout{0};
  int failures_in_row = 0;
  std::string last_reason;

  // Statistics and flags read by other threads.
  std::atomic<uint64_t> written{0}, duplicates{0}, backlog{0}, dropped{0}, rejected{0},
      reconnects{0};
  std::atomic<size_t> loop_side{0};  // taken from `waiting` and not acknowledged: in flight/held
  std::atomic<bool> connected_flag{false}, drain_scheduled{false}, finished{false};
  // BACK-PRESSURE: producers waiting in add() (room_cv, with room_mutex), and stop_waiting().
  std::mutex room_mutex;
  std::condition_variable room_cv;
  std::atomic<int> waiters{0};
  std::atomic<bool> no_waiting{false};
  std::atomic<int64_t> next_drop_log_ms{0};
  mutable std::mutex failure_mutex;
  std::string failure_text;
};

RedisStreamSink::RedisStreamSink(Loop& loop, RedisSinkOptions options)
    : impl_(std::make_unique<Impl>(loop, std::move(options))) {
  loop.check_loop_thread("RedisStreamSink::RedisStreamSink");
}

RedisStreamSink::~RedisStreamSink() {
  impl_->loop.check_loop_thread("RedisStreamSink::~RedisStreamSink");
}

void RedisStreamSink::start() {
  impl_->loop.check_loop_thread("RedisStreamSink::start");
  if (impl_->state != Impl::State::kIdle) return;
  LOG(INFO) << impl_->name() << ": writing to streams " << impl_->options.stream_template;
  impl_->connect_now();
}

void RedisStreamSink::add(std::string_view room_id, const douyu::Message& m) {
  impl_->add(room_id, m);
}

void RedisStreamSink::stop_waiting() { impl_->stop_waiting(); }

void RedisStreamSink::flush(std::chrono::milliseconds timeout, std::function<void(bool)> done) {
  impl_->loop.check_loop_thread("RedisStreamSink::flush");
  impl_->flush(timeout, std::move(done));
}

uint64_t RedisStreamSink::written() const { return impl_->written.load(); }
uint64_t RedisStreamSink::duplicates() const { return impl_->duplicates.load(); }
uint64_t RedisStreamSink::backlog() const { return impl_->backlog.load(); }
uint64_t RedisStreamSink::dropped() const { return impl_->dropped.load(); }
uint64_t RedisStreamSink::rejected() const { return impl_->rejected.load(); }
uint64_t RedisStreamSink::reconnects() const { return impl_->reconnects.load(); }
bool RedisStreamSink::connected() const { return impl_->connected_flag.load(); }
std::string RedisStreamSink::failure() const {
  std::lock_guard lock(impl_->failure_mutex);
  return impl_->failure_text;
}

}  // namespace asyncore::redis

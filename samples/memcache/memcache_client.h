// memcache_client.h — MemcacheClient: a memcached text-protocol client on AsyncChat, written as
// teaching material (docs/your-own-protocol.md builds it up step by step).
//
//   asyncore::Loop loop;
//   auto mc = asyncore::make_dispatcher<memcache::MemcacheClient>(loop, "127.0.0.1", 11211);
//   mc->set("greeting", "hello", /*flags=*/0, /*exptime=*/0, [](memcache::Result r) {
//     std::cout << memcache::status_name(r.status) << "\n";  // STORED
//   });
//   mc->get("greeting", [&](memcache::Result r) {
//     if (const memcache::Value* v = r.find("greeting")) std::cout << v->data << "\n";
//     mc->close();  // the map is then empty: loop() returns
//   });
//   loop.loop();
//
// PIPELINED: a request is written at once (queued until the connection is up) without waiting
// for the replies to earlier ones. memcached answers in order, so replies are matched to requests
// by a FIFO of callbacks. Every callback runs exactly once:
//   * with the server's answer (ok(), or kServerError for ERROR / CLIENT_ERROR / SERVER_ERROR);
//   * with kInvalid, before the call returns, when the client refuses the request and sends
//     nothing (a bad key, no keys);
//   * with kClosed when the connection ends first: connect failed, the server left, close() was
//     called, or the server broke the protocol (an ERROR is logged). A request on a closed client
//     fails so at once, before the call returns. Whether a failed set/delete reached the server
//     is unknown.
// Callbacks run on the loop thread; they may make requests and close() the client, but must not
// destroy it (as any handler: see core/dispatcher.h, OWNERSHIP).
//
// Only get, set and delete, and never "noreply": a request without a reply would break the FIFO.
// Back-pressure: AsyncChat's set_high_water_mark() closes the client when more than that many
// request bytes wait for a server that does not read; the request that crossed the mark and every
// other pending one then fail with kClosed, before that call returns.
//
// OWNERSHIP: make_dispatcher<MemcacheClient>() (the loop keeps it alive while it is open) or a
// member you own. THREADS: loop thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "client/async_chat.h"

namespace memcache {

enum class Status {
  kOk,           // get: END arrived; the values found are in Result::values (maybe none)
  kStored,       // set: STORED
  kNotStored,    // set: NOT_STORED
  kExists,       // set: EXISTS
  kNotFound,     // set or delete: NOT_FOUND
  kDeleted,      // delete: DELETED
  kServerError,  // ERROR, CLIENT_ERROR or SERVER_ERROR for this request; the connection goes on
  kInvalid,      // refused by the client: nothing was sent
  kClosed,       // the connection ended before the answer
};
// "STORED", "NOT_FOUND", ... as on the wire; "OK", "SERVER_ERROR", "INVALID", "CLOSED" for the
// rest.
const char* status_name(Status status);

struct Value {
  std::string key;
  std::string data;  // binary safe: may hold "\r\n" and NUL bytes
  uint32_t flags = 0;
};

struct Result {
  Status status = Status::kClosed;
  std::vector<Value> values;  // get: what was found, in the server's order
  std::string message;        // kServerError: the server's line; kInvalid, kClosed: why
  // The server answered (not kServerError, kInvalid, kClosed).
  bool ok() const { return status < Status::kServerError; }
  // The value of `key` in `values`, or nullptr (not found).
  const Value* find(std::string_view key) const;
};
using Callback = std::function<void(Result)>;

// "" when memcached accepts `key`, else why not: 1 to 250 bytes, no whitespace or control bytes.
std::string key_error(std::string_view key);

class MemcacheClient final : public asyncore::AsyncChat {
 public:
  static constexpr size_t kMaxKeyLength = 250;  // memcached's KEY_MAX_LENGTH
  // The longest reply line accepted. The longest valid one, "VALUE <250-byte key> <flags> <bytes>
  // <cas>", is about 320 bytes; without a limit a server that never sends "\r\n" would make the
  // line buffer grow until memory runs out.
  static constexpr size_t kMaxLineLength = 2048;
  // memcached's default item size limit (its -I option): no value it sends can be larger.
  static constexpr uint64_t kDefaultMaxValueSize = 1024 * 1024;

  // Connects at once: `host` is a numeric address or a name (resolved asynchronously). Requests
  // may be made right away; they wait in AsyncChat's output queue until the connection is up.
  MemcacheClient(asyncore::Loop& loop, const std::string& host, uint16_t port);
  // Fails the pending requests (kClosed) if it is still open: no callback is ever lost.
  ~MemcacheClient() override;

  // get <key>: kOk with the value in Result::values, or with no values when the key is missing.
  void get(std::string_view key, Callback done);
  // get <key>*: kOk with the values found, in the server's order; missing keys are left out.
  void get_many(std::vector<std::string> keys, Callback done);
  // set <key> <flags> <exptime> <bytes>: kStored. exptime: seconds from now (0: never expires;
  // above 30 days, memcached reads it as a Unix time). A value above the server's item size limit
  // gets kServerError ("SERVER_ERROR object too large for cache"); the connection goes on.
  void set(std::string_view key, std::string_view value, uint32_t flags, uint32_t exptime,
           Callback done);
  // delete <key>: kDeleted, or kNotFound. ("delete" is a C++ keyword, hence the name.)
  void remove(std::string_view key, Callback done);

  // Requests sent (or queued) and not answered yet.
  size_t pending_requests() const { return pending_.size(); }
  // A VALUE longer than this is a protocol error (raise it for a server run with a larger -I).
  void set_max_value_size(uint64_t bytes) { max_value_size_ = bytes; }
  // Why the client closed ("" while open), e.g. "std::system_error: connect to 127.0.0.1:1:
  // Connection refused"; the kClosed results carry it too.
  const std::string& close_reason() const { return close_reason_; }

  // ---- AsyncChat / Dispatcher ----
  void handle_connect() override {}  // nothing to do: queued requests go out by themselves
  void collect_incoming_data(std::string_view data) override;
  void found_terminator() override;
  void handle_close() override;
  void handle_error() override;
  // Closes the socket, then fails every pending request with kClosed.
  void close() override;

 private:
  enum class Kind { kGet, kSet, kDelete };
  struct Request {
    Kind kind;
    std::vector<std::string> keys;  // kGet: the keys asked for, to check each VALUE against
    Callback done;
  };

  void send_request(Kind kind, std::vector<std::string> keys, std::string_view command,
                    std::string_view data, Callback done);
  void handle_line(std::string_view line);
  void start_value(std::string_view line);
  void finish_value(std::string block);
  // Pops the oldest request and runs its callback with `result`.
  void answer(Result result);
  // The server broke the protocol: log why, close (failing every pending request).
  void protocol_error(const std::string& what);

  std::string name_;  // "host:port", for logs
  std::deque<Request> pending_;
  std::string in_;              // the line or data block being collected
  bool reading_value_ = false;  // after a VALUE line: the terminator is a byte count
  Value value_;                 // the VALUE being read
  std::vector<Value> values_;   // the VALUEs read so far for the oldest request (a get)
  uint64_t max_value_size_ = kDefaultMaxValueSize;
  std::string close_reason_;
};

}  // namespace memcache

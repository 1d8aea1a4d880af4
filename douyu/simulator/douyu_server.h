// DouyuServer: a Douyu barrage server simulator — a listening Dispatcher that speaks the server
// side of PROTOCOL.md strictly, streams realistic room activity, and misbehaves on request, so the
// client can be tested on loopback (and benchmarked) without the real, long-dead endpoint.
//
//   asyncore::Loop loop;
//   auto server = asyncore::make_dispatcher<DouyuServer>(loop, Address::ipv4_loopback(0),
//                                                        SimulatorOptions{.rate = 50});
//   ... connect clients to server->address() ...
//   loop.loop();
//
// SESSION (per accepted connection; every client frame is decoded with FrameDecoder
// {expected_type = 689, strict, max_length 64 KiB — client requests are tiny}):
//   loginreq/roomid@=R/      → loginres (userid, roomgroup@=0, pg@=0, sessionid, username,
//                              nickname, live_stat@=1, ...). roomid missing, not a number or
//                              <= 0 → error/code@=204/, then close after flushing.
//   joingroup/rid@=R/gid@=G/ → starts the room stream (rid must equal the login roomid, else
//                              error/code@=204/ and close after flushing). Before loginreq:
//                              error/code@=51/ and close after flushing. A second joingroup
//                              is logged and ignored.
//   mrkl/                    → mrkl/            keeplive/tick@=T/ → keeplive/tick@=T/
//   logout/                  → flush what is queued, then close.
//   any other type           → LOG(WARNING), ignored (tolerant in what it accepts).
//   malformed frame          → LOG(ERROR) naming the decoder's message and the peer,
//                              stats().bad_frames + 1, connection closed at once.
// Every valid request is logged at LOG(INFO) as "<peer> <body>" — heartbeats included (a
// client sends one per 45 s: not a flood) — and then passed to on_request.
// The server also sends pingreq/tick@=<ms>/ every `ping_interval` seconds to logged-in sessions.
//
// ROOM STREAM (see room_stream.h): message N of room R carries a SIMULATOR-ONLY field `seq@=N/`
// right after `type` (type@=chatmsg/seq@=N/rid@=R/...), N = 1, 2, 3, ... per room, so tests
// can check exactly-once, in-order delivery. A message counts as sent (stats, drop_after,
// continuity) only once the kernel took all of its bytes. Continuity across reconnects: the
// room remembers the last seq fully flushed on a connection that has since closed, and a new
// connection for that room continues after it — a client that reconnects after a drop_after
// close receives 1..N exactly once, in order. (Concurrent connections to one room each count
// on from the same point; the connection that closed last sets the resume point.)
//
// "Close after flushing" (logout, errors, drop_after) is graceful: the queued bytes are written,
// then shutdown_output() sends FIN (over ws/wss: after a WebSocket close 1000 and TLS's
// close_notify); whatever the client still sends is read and discarded until
// its EOF (at most kLingerSeconds), so the close never turns into an RST that could destroy
// data in flight.
//
// PERFORMANCE: frames are produced on demand from handle_write() whenever less than
// kLowWaterBytes is queued, up to kHighWaterBytes (a Producer-style more() on the raw
// Dispatcher — not AsyncChat, because the continuity rule needs to know exactly which message
// bytes the kernel took). Rate mode uses ONE 10 ms loop timer for all streaming connections, not
// one per connection: with 1,000 connections, per-connection timers would be 100,000 wake-ups/s.
//
// OWNERSHIP: the server is a Dispatcher (make_dispatcher<DouyuServer>(...) or owned by you).
// Connections are shared-owned by the loop's map; destroying the server shuts them all down at
// once (peers see EOF) and closes them on the next loop turn.
// THREADS: loop thread only, including stats() and on_request.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/dispatcher.h"
#include "core/tls.h"
#include "douyu/protocol/endpoint.h"
#include "douyu/protocol/message.h"
#include "douyu/simulator/room_stream.h"

namespace asyncore::douyu {

struct SimulatorOptions {
  double rate = 20.0;            // room messages per second per joined connection (0: none)
  uint64_t flood = 0;            // > 0: after joingroup send exactly N room messages as fast as the
                                 // socket takes them (then keep answering heartbeats)
  std::string replay_file = {};  // non-empty: stream these STT bodies (one per line, blank lines
                                 // skipped) in a cycle instead of synthetic ones, at `rate` or in
                                 // flood. Bodies are sent as they are (their rid too) + seq.
  uint64_t drop_after = 0;       // fault: after N room messages were sent on a connection, flush
                                 // them all, then close it (graceful FIN)
  uint64_t malformed_after = 0;  // fault: after N room messages, send one malformed frame (the two
                                 // lengths differ), then keep going as if nothing happened
  bool silent = false;           // fault: after loginres, send nothing at all (no stream, no
                                 // heartbeat answers); connection stays open
  bool send_error_after_login = false;  // fault: answer loginreq with type@=error/code@=52/
                                        // instead of loginres, then close after flushing
  uint64_t seed = 1;                    // synthetic stream is deterministic for a seed
  double ping_interval = 30.0;          // seconds between pingreq to logged-in sessions (0: never)
  // What the accepted connections speak (douyu/client/transport.h): tcp (the frames on the socket),
  // ws (WebSocket, frames in binary messages of up to kWebSocketMessageBytes, so a message often
  // carries many frames and a frame may straddle two messages), or wss (the same over TLS, with
  // `tls`, a server context made by TlsContext::server() with a certificate and key).
  Transport transport = Transport::kTcp;
  std::shared_ptr<TlsContext> tls = {};
};

struct SimulatorStats {
  uint64_t connections = 0;  // accepted
  uint64_t logins = 0;       // loginreq answered with loginres
  uint64_t joins = 0;        // joingroup that started (or, silent, would start) a stream
  uint64_t heartbeats = 0;   // mrkl + keeplive received
  uint64_t logouts = 0;
  uint64_t room_messages_sent = 0;  // fully handed to the kernel
  uint64_t bad_frames = 0;          // malformed client frames (each closed its connection)
};

class DouyuServer : public asyncore::Dispatcher {
 public:
  static constexpr size_t kLowWaterBytes = 64 * 1024;    // refill the output below this...
  static constexpr size_t kHighWaterBytes = 256 * 1024;  // ...up to this; stop reading above 1 MiB
  static constexpr double kTickSeconds = 0.01;           // rate-mode timer
  static constexpr size_t kWebSocketMessageBytes = 16 * 1024;  // ws/wss: bytes per message
  static constexpr double kLingerSeconds = 5.0;  // graceful close: wait for client EOF

  // Creates the socket, set_reuse_addr(), binds `listen_on` (port 0: a free port) and listens.
  // Throws std::system_error (bind/listen) or std::runtime_error (unreadable replay file).
  DouyuServer(Loop& loop, const Address& listen_on, SimulatorOptions options = {});
  ~DouyuServer() override;

  // The bound address (port 0 resolved).
  Address address() const { return address_; }
  const SimulatorStats& stats() const { return stats_; }
  size_t open_connections() const { return sessions_.size(); }
  const SimulatorOptions& options() const { return options_; }

  // Test hook, loop thread: every VALID client request, decoded, with the peer address. Called
  // after the request is logged and before the server acts on it.
  std::function<void(const Message& request, const Address& peer)> on_request;

  // ---- Dispatcher ----
  void handle_accept() override;  // accepts every waiting connection, not just one
  void handle_accepted(Socket sock, const Address& addr) override;
  bool writable() override { return false; }

 private:
  class Session;

  RoomStream& room(int64_t room_id);
  void session_closed(Session* s);
  void start_streaming(Session* s);
  void stop_streaming(Session* s);
  void on_tick();
  void on_ping();

  SimulatorOptions options_;
  Address address_;
  SimulatorStats stats_;
  SharedBodies replay_;
  std::unordered_map<int64_t, std::unique_ptr<RoomStream>> rooms_;
  std::unordered_set<Session*> sessions_;
  std::unordered_set<Session*> rate_streaming_;  // joined, rate mode: served by the tick timer
  std::vector<Session*> tick_snapshot_;
  TimerId tick_timer_ = 0;
  TimerId ping_timer_ = 0;
  uint64_t next_session_id_ = 1;
};

}  // namespace asyncore::douyu

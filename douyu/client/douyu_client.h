// douyu_client.h — DouyuClient: the tutorial's Douyu barrage client, as a Dispatcher.
//
// Structured exactly as the tutorial builds it, one piece per job:
//   * a send queue drained by writable()/handle_write() — any thread may enqueue; enqueuing wakes
//     the loop, so a packet leaves at once, not after a poll timeout;
//   * handle_read() splits frames into a receive queue (MessageWorker), whose worker thread
//     decodes them and calls the user's callback (or a DouyuHandler) in order;
//   * a heartbeat thread (HeartbeatThread) sends mrkl every interval while triggered, paused while
//     disconnected or not logged in.
// Many rooms in one process: with DouyuClientOptions::worker_pool set, the client starts no
// thread — its messages are delivered by one thread of the shared WorkerPool (the same one for
// its whole life: in order, one thread at a time; a slow callback delays the other rooms of that
// pool thread), and its heartbeat is a timer on the loop (HeartbeatTimer). Every guarantee below
// holds in both modes.
//
// The session runs itself: connect → loginreq → (loginres) → joingroup gid -9999 → heartbeat
// triggered; stop() sends logout, flushes it, closes, and ends both threads.
//
// With DouyuClientOptions::connect_pacer, each connection attempt first waits for the pacer's
// slot (state kConnecting, or kWaitingToReconnect, meanwhile).
//
// Reliability: on a lost connection, a server `error` message (a code that is not 0, missing or
// not a number), a malformed frame, a connect that takes longer than connect_timeout, or silence
// longer than dead_timeout (default 2 × heartbeat) while reading, it logs the reason and
// reconnects with exponential backoff and jitter, then logs in and joins again (reconnect =
// false: it stops, and failure() says why). The backoff starts again from backoff_initial only
// after a session stayed joined for healthy_session: a server that accepts the login and then
// fails at once is retried less and less often, never in a storm.
//
// Back-pressure: while the receive queue holds receive_high_water messages, or
// receive_high_water_bytes of queued frames, readable() answers false — memory stays bounded
// whatever a server sends (see docs/DOUYU_CLIENT.md for the figure), nothing is dropped. A paused
// reader is not a dead peer: the silence clock stops while reading is paused.
//
// Sending: send_packet() refuses (returns false, counts dropped_outgoing(), logs at most one
// WARNING per 10 s with the count) while no connection is up, once stop() was called, and when
// send_queue_limit bytes already wait for a server that stopped reading.
//
// Stopping: everything queued before stop() leaves before the logout; after the logout the
// client half-closes (shutdown(SHUT_WR)) and reads until the server's EOF (at most
// logout_flush_timeout), so no RST can destroy the logout or messages in flight. The messages
// read meanwhile are delivered.
//
// Threads and ownership: the socket belongs to the loop thread. send_packet(), send_body(),
// start_heartbeat(), pause_heartbeat() and stop() are thread-safe, also from inside the callback;
// a call that stop() queues for the loop does nothing if the client is destroyed first. join()
// waits for the threads: from another thread it waits while the loop thread finishes the
// session; on the loop thread, outside loop(), it runs the loop itself until the client has
// stopped; inside a turn of the loop (a handler, a timer) or inside the callback it would wait
// for itself, and throws std::logic_error instead. Keep the client (a local, a member, or
// make_dispatcher's shared_ptr) until it has stopped; destroy it on the loop thread (or when no
// loop() runs), and before the Loop. Destroying a running client closes its connection at once
// (no logout) and joins its threads. Any number of clients may share one Loop (one per room).
//
// Without a worker pool the constructor starts two threads; when they cannot be created it
// throws std::system_error ("DouyuClient: cannot start its threads: Resource temporarily
// unavailable"). With one it starts none. join() from inside the callback of another client of
// the same pool thread would wait for that very thread: it throws std::logic_error too.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/backoff.h"
#include "core/dispatcher.h"
#include "core/tls.h"
#include "douyu/client/connect_pacer.h"
#include "douyu/client/handler.h"
#include "douyu/client/heartbeat_sender.h"
#include "douyu/client/message_worker.h"
#include "douyu/client/worker_pool.h"
#include "douyu/protocol/endpoint.h"
#include "douyu/protocol/frame_batch.h"
#include "douyu/protocol/frame_decoder.h"
#include "douyu/protocol/message.h"
#include "douyu/protocol/packet.h"

namespace asyncore::douyu {

struct DouyuClientOptions {
  // Where to connect (douyu/protocol/endpoint.h). The default is the historic TCP endpoint
  // (PROTOCOL.md §3); a real room today is at douyu_default_endpoint(),
  // wss://danmuproxy.douyu.com:8501/ — set_endpoint() fills these four fields from a parsed URL.
  Transport transport = Transport::kTcp;
  std::string host = "openbarrage.douyutv.com";
  uint16_t port = 8601;
  std::string path = "/";  // the WebSocket request target (ws/wss)
  // wss: certificate verification, extra CA file, no verification (tests only), TLS 1.2 compat.
  TlsOptions tls = {};
  // wss: a client context to share between many clients (one per room); nullptr: the client
  // makes its own from `tls`. Its construction throws std::runtime_error for a bad CA file.
  std::shared_ptr<TlsContext> tls_context = {};
  // wss to a port of Douyu's proxy range 8501..8506: every reconnect tries the next port of it.
  bool rotate_wss_ports = true;
  std::string room_id;       // the real numeric room id
  int64_t group_id = -9999;  // "massive barrage": all messages
  std::chrono::milliseconds heartbeat_interval{45'000};
  std::chrono::milliseconds dead_timeout{0};  // no data for this long = dead; 0: 2 × heartbeat
  // DNS + TCP connect + TLS handshake + WebSocket upgrade, per attempt.
  std::chrono::milliseconds connect_timeout{10'000};
  bool reconnect = true;
  std::chrono::milliseconds backoff_initial{500};
  std::chrono::milliseconds backoff_max{30'000};
  // A session joined for this long counts as healthy: the next failure backs off from the start.
  std::chrono::milliseconds healthy_session{30'000};
  size_t receive_high_water = 8192;  // messages queued for the callback before reading pauses
  size_t receive_high_water_bytes = 64 << 20;  // ... or bytes of them (FrameBatch::memory_bytes)
  size_t send_queue_limit = 1 << 20;           // bytes waiting to be sent before send refuses
  uint32_t max_frame_length = kDefaultMaxLength;
  bool deliver_pending_on_stop =
      true;  // false: messages still queued at stop are discarded (counted)
  std::chrono::milliseconds logout_flush_timeout{1000};  // stop() closes after this at the latest
  // Many clients in one process: nullptr (the default) gives the client its own worker and
  // heartbeat threads; a pool makes it start none (messages delivered by one pool thread, bound
  // for the client's life; heartbeats by a loop timer). The client keeps the pool alive.
  std::shared_ptr<WorkerPool> worker_pool = {};
  // Many clients on one loop: every connection attempt (the first and each reconnect) waits for
  // a slot of this pacer, shared by all of them, so neither the start nor a network blip opens
  // thousands of connections at once (connect_pacer.h). nullptr: connect when due.
  std::shared_ptr<ConnectPacer> connect_pacer = {};

  void set_endpoint(const Endpoint& e) {
    transport = e.transport;
    host = e.host;
    port = e.port;
    path = e.path;
  }
  Endpoint endpoint() const { return Endpoint{transport, host, port, path}; }
};

class DouyuClient : public Dispatcher {
 public:
  using Callback = std::function<void(const Message&)>;

  enum class State {
    kIdle,
    kConnecting,
    kLoggingIn,
    kJoined,
    kWaitingToReconnect,
    kStopping,
    kStopped
  };

  // `callback` runs on the worker thread (or the client's pool thread) for every message, in order
  // (loginres and mrkl too).
  // The Message is valid during the call (the worker reuses it for the next one): copy to keep.
  // Its fields are decoded when first read (Message::type() decodes nothing: a callback that
  // filters by type pays nothing for what it skips), so read it on the callback's thread; a copy
  // may go to any thread.
  DouyuClient(Loop& loop, DouyuClientOptions options, Callback callback);
  // Typed handler instead of a callback; it must outlive the client.
  DouyuClient(Loop& loop, DouyuClientOptions options, DouyuHandler& handler);
  // Closes a running session at once (no logout), then joins the threads. Loop thread (or no
  // loop running).
  ~DouyuClient() override;

  // Loop thread: starts the session (connect, login, join).
  void start();

  // ---- thread-safe ----
  // Queues a frame for the server; it leaves within a loop turn. Refused (false; counted and
  // logged, rate-limited) while no connection is up, after stop(), or when the send queue holds
  // send_queue_limit bytes: the session re-sends what it needs (login, join) after a reconnect.
  bool send_packet(const Packet& packet);
  bool send_body(std::string_view stt_body) { return send_packet(Packet(stt_body)); }
  void start_heartbeat() { heartbeat_->trigger(); }
  void pause_heartbeat() { heartbeat_->pause(); }
  // Ends the session: what was queued goes out, then logout, half-close, close at the server's
  // EOF; the worker delivers what is queued (or discards it, by option) and both threads end.
  // Returns at once; join() waits for the threads. Idempotent.
  void stop();
  // Waits until the client has stopped and its threads have ended (see the header comment for
  // which thread may call it). Throws std::logic_error where it could only deadlock.
  void join();

  State state() const { return state_.load(std::memory_order_acquire); }
  bool stopped() const { return state() == State::kStopped; }
  // Why a client with reconnect off gave up ("" otherwise).
  std::string failure() const;
  uint64_t frames_received() const { return frames_received_.load(std::memory_order_relaxed); }
  uint64_t bytes_received() const { return bytes_received_.load(std::memory_order_relaxed); }
  uint64_t delivered() const { return worker_.delivered(); }
  uint64_t discarded() const { return worker_.discarded(); }
  uint64_t reconnects() const { return reconnects_.load(std::memory_order_relaxed); }
  uint64_t heartbeats_sent() const { return heartbeat_->beats(); }
  size_t queued_messages() const { return worker_.pending(); }
  size_t queued_bytes() const { return worker_.pending_bytes(); }
  uint64_t dropped_outgoing() const { return dropped_outgoing_.load(std::memory_order_relaxed); }
  const DouyuClientOptions& options() const { return options_; }

  // ---- Dispatcher ----
  bool readable() override;
  bool writable() override;
  void handle_connect() override;
  void handle_read() override;
  void handle_write() override;
  void handle_close() override;
  void handle_error() override;

 private:
  std::string tag() const;  // "[room 9999 wss://host:port/]" for logs
  std::string url() const;  // the endpoint of the current attempt
  void connect_when_due();  // now, or when connect_pacer grants a slot
  void connect_now();
  void on_message_loop_side(const Message& m, std::string& lost_reason);
  // A new or lost connection: the decoder's state and a frame's start in batch_ are dropped.
  void forget_partial_frame();
  void connection_lost(const std::string& reason);
  void stop_on_loop();
  void finish(const std::string& failure);
  void check_alive();
  void cancel_timer(TimerId& timer);  // cancels if armed; leaves it 0
  void cancel_timers();
  void refuse_outgoing(const char* why, const Packet& packet);  // send_mutex_ held
  void logout_flushed();

  DouyuClientOptions options_;
  std::chrono::milliseconds dead_timeout_;
  uint16_t port_;  // the current attempt's port (rotates over wss, see rotate_wss_ports)

  // Loop thread only.
  FrameDecoder decoder_;
  // The frames of one read, handed to the worker in one lock; between reads, the start of a
  // frame still arriving (FrameBatch::take_tail() carries it over through tail_).
  FrameBatch batch_;
  std::string tail_;
  std::string out_;  // bytes being sent; out_[out_sent_..] still to go
  size_t out_sent_ = 0;
  bool close_after_flush_ = false;
  Backoff backoff_;
  TimerId reconnect_timer_ = 0;
  TimerId alive_timer_ = 0;
  TimerId flush_timer_ = 0;
  TimerId connect_timer_ = 0;
  std::chrono::steady_clock::time_point last_receive_;
  std::chrono::steady_clock::time_point joined_at_;  // of the current session; {} if not joined
  bool reading_paused_ = false;                      // readable() said no: back-pressure

  // Any thread.
  std::mutex send_mutex_;
  std::string send_queue_;  // guarded by send_mutex_: frames enqueued by any thread
  std::chrono::steady_clock::time_point last_refusal_log_;  // guarded by send_mutex_
  uint64_t refused_since_log_ = 0;                          // guarded by send_mutex_
  std::atomic<bool> send_queue_nonempty_{false};
  std::atomic<uint64_t> dropped_outgoing_{0};
  std::atomic<State> state_{State::kIdle};
  std::atomic<bool> stop_requested_{false};
  mutable std::mutex failure_mutex_;
  std::string failure_;  // guarded by failure_mutex_
  std::atomic<uint64_t> frames_received_{0};
  std::atomic<uint64_t> bytes_received_{0};
  std::atomic<uint64_t> reconnects_{0};
  // Liveness token: calls queued for the loop hold a weak_ptr and do nothing once the client is
  // gone. The destructor resets life_; the weak_ptr member is never written after construction,
  // so any thread may copy it.
  std::shared_ptr<char> life_ = std::make_shared<char>();
  const std::weak_ptr<char> life_token_ = life_;

  // Threads last: they start once everything above exists, and stop first. (With a worker pool:
  // a queue served by a pool thread, and a loop timer.)
  MessageWorker worker_;
  std::unique_ptr<HeartbeatSender> heartbeat_;
};

const char* to_string(DouyuClient::State state);

}  // namespace asyncore::douyu

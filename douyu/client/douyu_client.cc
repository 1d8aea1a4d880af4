#include "douyu/client/douyu_client.h"

#include <glog/logging.h>

#include <cstring>
#include <stdexcept>
#include <system_error>

#include "core/exception_text.h"
#include "douyu/client/heartbeat_thread.h"
#include "douyu/client/heartbeat_timer.h"
#include "douyu/client/transport.h"
#include "douyu/protocol/requests.h"
#include "douyu/protocol/typed_messages.h"

namespace asyncore::douyu {

namespace {
constexpr size_t kReadChunk = 64 * 1024;
// A busy room's batch holds a read and the start of a frame carried over from the one before.
constexpr size_t kCarryRoom = 4 * 1024;
// What a connection lost mid-frame keeps of its batch for the next connection.
constexpr size_t kKeepReadBatchBytes = 256 * 1024;
// Reads per readiness event: enough to drain a busy socket in few turns, few enough that one
// flooding room does not starve the others on the same loop.
constexpr int kReadsPerEvent = 4;

// A refused outgoing packet is logged at most this often (with the count since the last line).
constexpr std::chrono::seconds kRefusalLogInterval{10};
// Hostile text quoted in a log line is cut to this many bytes.
constexpr size_t kQuoteMax = 64;

double seconds(std::chrono::milliseconds ms) { return static_cast<double>(ms.count()) / 1000.0; }

// Whether the session may act on a body: its type is loginres or error, or it does not lead the
// body (decode to know). A leading type is compared as it lies: neither name holds '@' or '/', so
// an escape makes it another type, and "loginres@=x" (a second "@=") is a value of its own. Two
// compares, not a walk over the type: this runs for every frame on the loop thread.
bool session_may_act_on(std::string_view body) {
  constexpr std::string_view kLead = "type@=";
  if (!body.starts_with(kLead)) return true;
  const std::string_view rest = body.substr(kLead.size());
  const auto is = [rest](std::string_view type) {
    return rest.starts_with(type) && (rest.size() == type.size() || rest[type.size()] == '/');
  };
  return is(LoginResponse::kType) || is(ServerError::kType);
}

std::string quote(std::string_view text) {
  if (text.size() <= kQuoteMax) return "'" + std::string(text) + "'";
  return "'" + std::string(text.substr(0, kQuoteMax)) + "...' (" + std::to_string(text.size()) +
         " bytes)";
}

// The clock's arithmetic must not overflow: intervals beyond a day are configuration errors.
std::chrono::milliseconds checked_interval(std::chrono::milliseconds ms, const char* name) {
  if (ms.count() <= 0 || ms > std::chrono::hours(24)) {
    throw std::invalid_argument(std::string("DouyuClientOptions::") + name +
                                " must be in (0, 24 h], got " + std::to_string(ms.count()) + " ms");
  }
  return ms;
}

// One read buffer per loop thread, shared by all its clients, for the reads of quiet rooms:
// every read is copied out of it (into the FrameBatch) before handle_read() returns, so no view
// into it outlives the call. Per client, 64 KiB of zero-filled, resident memory would be the
// largest part of an idle room's cost.
std::string& read_buffer() {
  thread_local std::string buffer(kReadChunk, '\0');
  return buffer;
}

std::unique_ptr<HeartbeatSender> make_heartbeat(Loop& loop, const DouyuClientOptions& o,
                                                std::function<void()> beat) {
  const auto interval = checked_interval(o.heartbeat_interval, "heartbeat_interval");
  if (o.worker_pool) return std::make_unique<HeartbeatTimer>(loop, interval, std::move(beat));
  return std::make_unique<HeartbeatThread>(interval, std::move(beat));
}
}  // namespace

const char* to_string(DouyuClient::State state) {
  switch (state) {
    case DouyuClient::State::kIdle:
      return "idle";
    case DouyuClient::State::kConnecting:
      return "connecting";
    case DouyuClient::State::kLoggingIn:
      return "logging in";
    case DouyuClient::State::kJoined:
      return "joined";
    case DouyuClient::State::kWaitingToReconnect:
      return "waiting to reconnect";
    case DouyuClient::State::kStopping:
      return "stopping";
    case DouyuClient::State::kStopped:
      return "stopped";
  }
  return "?";
}

// A function-try-block: the threads are the last members, so when one cannot be created every
// member before it is already destroyed here; the error names what failed.
DouyuClient::DouyuClient(Loop& loop, DouyuClientOptions options, Callback callback) try
    : Dispatcher(loop),
      options_(std::move(options)),
      dead_timeout_(options_.dead_timeout.count() > 0
                        ? checked_interval(options_.dead_timeout, "dead_timeout")
                        : 2 * checked_interval(options_.heartbeat_interval, "heartbeat_interval")),
      decoder_(FrameDecoderOptions{options_.max_frame_length, kServerToClient, true}),
      backoff_(options_.backoff_initial, options_.backoff_max),
      worker_(
          options_.receive_high_water, options_.receive_high_water_bytes, std::move(callback),
          // Reading was paused for back-pressure and the queue drained: ask readable() again.
          [this] { this->loop().wake(); }, options_.worker_pool),
      heartbeat_(make_heartbeat(loop, options_, [this] { send_packet(mrkl()); })) {
  checked_interval(options_.connect_timeout, "connect_timeout");
  port_ = options_.port;
  if (options_.transport == Transport::kWss && !options_.tls_context)
    options_.tls_context = TlsContext::client(options_.tls);
  use_client_transport(*this, options_.transport, options_.path, options_.tls_context);
} catch (const std::system_error& e) {
  throw std::system_error(e.code(), "DouyuClient: cannot start its threads");
}

DouyuClient::DouyuClient(Loop& loop, DouyuClientOptions options, DouyuHandler& handler)
    : DouyuClient(loop, std::move(options), [&handler](const Message& m) { handler.dispatch(m); }) {
}

DouyuClient::~DouyuClient() {
  life_.reset();  // calls queued by stop() now do nothing
  if (!stopped()) {
    cancel_timers();
    close();
    state_ = State::kStopped;
  }
  heartbeat_->stop();
  worker_.stop(options_.deliver_pending_on_stop);
  join();
}

std::string DouyuClient::url() const {
  return Endpoint{options_.transport, options_.host, port_, options_.path}.to_string();
}

std::string DouyuClient::tag() const { return "[room " + options_.room_id + " " + url() + "] "; }

void DouyuClient::start() {
  if (state() != State::kIdle) return;
  state_ = State::kConnecting;  // start() again is a no-op while the pacer holds the attempt
  connect_when_due();
}

void DouyuClient::connect_when_due() {
  reconnect_timer_ = 0;
  if (!options_.connect_pacer) {
    connect_now();
    return;
  }
  // The waiter runs on the loop thread; a client destroyed or stopped meanwhile gives its slot
  // to the next room.
  options_.connect_pacer->acquire([this, life = life_token_] {
    if (!life.lock() || stop_requested_ || stopped()) return false;
    connect_now();
    return true;
  });
}

void DouyuClient::connect_now() {
  reconnect_timer_ = 0;
  if (stop_requested_) return;
  state_ = State::kConnecting;
  LOG(INFO) << tag() << "connecting";
  // A dropped SYN (or a resolver that never answers) would otherwise cost minutes per attempt.
  connect_timer_ = loop().call_later(seconds(options_.connect_timeout), [this] {
    connect_timer_ = 0;
    if (state() != State::kConnecting) return;
    connection_lost("connect to " + url() + " timed out after " +
                    std::to_string(options_.connect_timeout.count()) + " ms");
  });
  try {
    connect(options_.host, port_);
  } catch (...) {
    connection_lost("cannot connect: " + current_exception_text());
  }
}

// ---------------------------------------------------------------- the send queue

bool DouyuClient::send_packet(const Packet& packet) {
  const State s = state();
  std::lock_guard lock(send_mutex_);
  if (stop_requested_.load(std::memory_order_acquire)) {
    refuse_outgoing("stopping", packet);
    return false;
  }
  if (s != State::kLoggingIn && s != State::kJoined && s != State::kConnecting) {
    refuse_outgoing(to_string(s), packet);
    return false;
  }
  if (send_queue_.size() + packet.bytes().size() > options_.send_queue_limit) {
    refuse_outgoing("send queue full: the server is not reading", packet);
    return false;
  }
  send_queue_ += packet.bytes();
  send_queue_nonempty_.store(true, std::memory_order_release);
  loop().wake();  // the loop asks writable() again at once
  return true;
}

void DouyuClient::refuse_outgoing(const char* why, const Packet& packet) {
  dropped_outgoing_.fetch_add(1, std::memory_order_relaxed);
  ++refused_since_log_;
  const auto now = std::chrono::steady_clock::now();
  if (last_refusal_log_ != std::chrono::steady_clock::time_point{} &&
      now - last_refusal_log_ < kRefusalLogInterval) {
    return;
  }
  LOG(WARNING) << tag() << "not sending " << quote(packet.body()) << " (" << why << "); "
               << refused_since_log_ << " outgoing packet(s) refused since the last such line, "
               << dropped_outgoing() << " in all";
  last_refusal_log_ = now;
  refused_since_log_ = 0;
}

bool DouyuClient::writable() {
  return connected() &&
         (out_sent_ < out_.size() || send_queue_nonempty_.load(std::memory_order_acquire));
}

void DouyuClient::handle_write() {
  if (out_sent_ == out_.size()) {
    out_.clear();
    out_sent_ = 0;
    std::lock_guard lock(send_mutex_);
    out_.swap(send_queue_);
    send_queue_nonempty_.store(false, std::memory_order_release);
  }
  if (out_sent_ < out_.size()) {
    out_sent_ += send(out_.data() + out_sent_, out_.size() - out_sent_);
  }
  if (close_after_flush_ && out_sent_ == out_.size() && !send_queue_nonempty_) logout_flushed();
}

// Graceful close, as a half-close: closing with unread input would make the kernel send RST,
// which can destroy the logout before the server reads it. Shut down our side, then read (and
// deliver) until the server's EOF closes the session (handle_close), or the flush timer fires.
void DouyuClient::logout_flushed() {
  close_after_flush_ = false;
  LOG(INFO) << tag() << "logout sent, waiting for the server to close";
  shutdown_output();  // over ws/wss: a close message first, then TLS close_notify, then FIN
}

// ---------------------------------------------------------------- the session

void DouyuClient::handle_connect() {
  LOG(INFO) << tag() << "connected to " << addr().to_string()
            << (options_.transport == Transport::kTcp ? "" : " (WebSocket upgrade done)")
            << ", logging in";
  cancel_timer(connect_timer_);
  state_ = State::kLoggingIn;
  last_receive_ = std::chrono::steady_clock::now();
  reading_paused_ = false;
  forget_partial_frame();
  // loginreq goes first, ahead of anything enqueued while connecting.
  out_ = loginreq(options_.room_id).bytes();
  out_sent_ = 0;
  {
    std::lock_guard lock(send_mutex_);
    out_ += send_queue_;
    send_queue_.clear();
    send_queue_nonempty_.store(false, std::memory_order_release);
  }
  const double check = std::max(0.05, seconds(dead_timeout_) / 4);
  if (alive_timer_ == 0) alive_timer_ = loop().call_every(check, [this] { check_alive(); });
}

bool DouyuClient::readable() {
  // Back-pressure: leave bytes in the kernel (and TCP's window) while the worker is behind.
  const bool pause = worker_.should_pause();
  if (pause != reading_paused_) {
    reading_paused_ = pause;
    // The silence clock stops while we do not read, and starts afresh when reading resumes.
    if (!pause) last_receive_ = std::chrono::steady_clock::now();
  }
  return !pause;
}

void DouyuClient::handle_read() {
  std::string lost_reason;
  for (int i = 0; i < kReadsPerEvent; ++i) {
    // batch_ holds no frame here, only the start of one still arriving (if any). A busy room's
    // batch comes back from the worker with room for a whole read: receive straight into it, so
    // no body is copied on this thread. A quiet room's batch has no room: receive into the loop
    // thread's buffer and copy what came (an idle room then pins no 64 KiB of its own).
    const size_t held = batch_.body_bytes();
    ssize_t n = 0;
    if (batch_.receive_capacity() >= held + kReadChunk) {
      n = recv(batch_.receive_space(kReadChunk), kReadChunk);
      if (n > 0) batch_.received(static_cast<size_t>(n));
    } else {
      std::string& buffer = read_buffer();
      n = recv(buffer.data(), buffer.size());
      if (n == static_cast<ssize_t>(kReadChunk)) {
        // A full read: the room is busy. Sized for the next ones to be received in place (with
        // room for a frame's start carried over).
        batch_.receive_space(kReadChunk + kCarryRoom);
      }
      if (n > 0) batch_.received(std::string_view(buffer.data(), static_cast<size_t>(n)));
    }
    if (n <= 0) return;  // nothing now, or closed (handle_close ran)
    bytes_received_.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
    // The loop thread splits frames; decoding is shared by queue depth. While the worker is
    // behind by more than an eighth of the high-water mark it is the busier thread, and the loop
    // thread decodes this read (add_received(..., true)); else it leaves the bodies to the worker,
    // which decodes a body only if its callback reads more than the type (FrameBatch::lend()).
    // A reader that decodes only when the worker has nothing queued at all (threshold 0) still
    // decoded most reads: 2.3 M msg/s against 2.9 M with this threshold (docs/PERFORMANCE.md).
    // A callback that reads only types (a counter, a filter that lets few through) gets nothing
    // decoded here: that work would be wasted. Only the rare types the session acts on (or a
    // body whose type cannot be read at a glance) are decoded here otherwise.
    const bool decode_here =
        worker_.callback_reads_fields() && worker_.pending() > worker_.high_water() / 8;
    batch_.reserve_frames(static_cast<size_t>(n) / 64);
    if (decode_here) batch_.reserve_fields(held + static_cast<size_t>(n));
    size_t split = 0;
    const bool ok = decoder_.split(batch_.received_bytes(), split, [&](const FrameView& frame) {
      // Looked at first: decoding here unescapes the body in place.
      const bool session = session_may_act_on(frame.body);
      batch_.add_received(frame.body, decode_here);
      if (session) {
        Message m;
        if (batch_.scanned()) {
          // Decoded in place in the batch: its fields, not the wire's bytes.
          m.assign(batch_.body(batch_.size() - 1), batch_.fields(batch_.size() - 1));
        } else {
          m.assign(frame.body);
        }
        on_message_loop_side(m, lost_reason);
      }
    });
    // After decoding, not before: a slow turn (a huge frame, a sanitizer build) is not silence.
    last_receive_ = std::chrono::steady_clock::now();
    if (!batch_.empty()) {
      frames_received_.fetch_add(batch_.size(), std::memory_order_relaxed);
      // The start of the next frame goes on with the next batch; the good frames before a bad
      // one are delivered too.
      batch_.take_tail(split, tail_);
      worker_.push(batch_);
      if (!tail_.empty()) batch_.received(tail_);
      if (tail_.capacity() > kCarryRoom) std::string().swap(tail_);  // carried a large frame
    }
    if (!ok) {
      LOG(ERROR) << tag() << "malformed frame from " << addr().to_string() << ": "
                 << decoder_.error_message();
      lost_reason = std::string("malformed frame (") + frame_error_name(decoder_.error()) + ")";
    }
    if (!lost_reason.empty()) {
      connection_lost(lost_reason);
      return;
    }
    if (worker_.should_pause()) return;
    // A short read drained the socket, unless TLS or the layer still hold decoded bytes (a
    // WebSocket message ends every few KiB: stopping there would cost a loop turn each).
    if (static_cast<size_t>(n) < kReadChunk && !input_pending()) return;
  }
}

void DouyuClient::forget_partial_frame() {
  decoder_.reset();
  batch_.recycle(kKeepReadBatchBytes);  // holds no frame: a frame's start at most
}

void DouyuClient::on_message_loop_side(const Message& m, std::string& lost_reason) {
  const std::string_view type = m.type();
  if (type == LoginResponse::kType && state() == State::kLoggingIn) {
    LOG(INFO) << tag() << "logged in, joining group " << options_.group_id;
    out_ += joingroup(options_.room_id, options_.group_id).bytes();
    state_ = State::kJoined;
    joined_at_ = std::chrono::steady_clock::now();  // the backoff resets once this lasts
    heartbeat_->trigger();
  } else if (type == ServerError::kType) {
    // Code 0 is the only "no error"; a missing or unreadable code is an error like any other.
    const auto code = m.get_int("code");
    if (!code) {
      const auto text = m.get("code");
      lost_reason = text ? "server sent an error whose code is not a number: " + quote(*text)
                         : std::string("server sent an error without a code");
    } else if (*code != 0) {
      lost_reason = "server sent error code " + std::to_string(*code);
    }
  }
}

void DouyuClient::check_alive() {
  if (!connected() && !connecting()) return;
  if (reading_paused_) return;  // back-pressure: we are not listening, so silence proves nothing
  const auto silent = std::chrono::steady_clock::now() - last_receive_;
  if (silent > dead_timeout_) {
    connection_lost(
        "no data for " +
        std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(silent).count()) +
        " ms (dead-connection timeout " + std::to_string(dead_timeout_.count()) + " ms)");
  }
}

void DouyuClient::handle_close() {
  // A reset (RST, e.g. a crashed or overloaded server) is a different story from an orderly
  // close: say which it was.
  const int err = disconnect_errno();
  std::string reason = err == 0 ? std::string("server closed the connection")
                                : std::string("connection broken: ") + std::strerror(err);
  if (!batch_.received_bytes().empty()) {
    reason += " in the middle of a frame (" + std::to_string(batch_.received_bytes().size()) +
              " bytes of it dropped)";
  }
  connection_lost(reason);
}

// The reason as a user reads it: the exception's message (the C++ type name stays in the log
// of the handler that threw, not in failure() or the CLI's last line).
void DouyuClient::handle_error() {
  try {
    throw;
  } catch (const std::exception& e) {
    connection_lost(e.what());
  } catch (...) {
    connection_lost(current_exception_text());
  }
}

void DouyuClient::connection_lost(const std::string& reason) {
  heartbeat_->pause();
  cancel_timer(alive_timer_);
  cancel_timer(connect_timer_);
  const size_t unsent = out_.size() - out_sent_;
  close();
  out_.clear();
  out_sent_ = 0;
  {
    std::lock_guard lock(send_mutex_);
    send_queue_.clear();
    send_queue_nonempty_.store(false, std::memory_order_release);
  }
  forget_partial_frame();
  if (stop_requested_ || state() == State::kStopping) {
    finish("");
    return;
  }
  // A connect that never completed (DNS, TCP, TLS, the upgrade, its timeout) was not "lost".
  const bool never_connected = state() == State::kConnecting;
  LOG(WARNING) << tag() << (never_connected ? "cannot connect: " : "connection lost: ") << reason
               << (unsent > 0 ? " (" + std::to_string(unsent) + " unsent bytes dropped)" : "");
  if (!options_.reconnect) {
    finish(url() + ": " + reason);
    return;
  }
  // Douyu's WebSocket proxy listens on 8501..8506: a port that failed is not tried twice in a row.
  if (options_.transport == Transport::kWss && options_.rotate_wss_ports &&
      port_ >= kDouyuWssFirstPort && port_ <= kDouyuWssLastPort) {
    port_ = port_ == kDouyuWssLastPort ? kDouyuWssFirstPort : static_cast<uint16_t>(port_ + 1);
  }
  const auto now = std::chrono::steady_clock::now();
  const bool was_healthy = joined_at_ != std::chrono::steady_clock::time_point{} &&
                           now - joined_at_ >= options_.healthy_session;
  joined_at_ = {};
  if (was_healthy) backoff_.reset();
  const auto delay = backoff_.next();
  reconnects_.fetch_add(1, std::memory_order_relaxed);
  LOG(INFO) << tag() << "reconnecting in " << delay.count() << " ms (reconnect #" << reconnects()
            << ")";
  state_ = State::kWaitingToReconnect;
  reconnect_timer_ = loop().call_later(seconds(delay), [this] { connect_when_due(); });
}

// ---------------------------------------------------------------- stopping

void DouyuClient::stop() {
  if (stop_requested_.exchange(true)) return;
  heartbeat_->pause();
  heartbeat_->stop();  // the heartbeat thread ends now; no more mrkl
  loop().call_soon_threadsafe([this, life = life_token_] {
    if (life.lock()) stop_on_loop();  // the client may have been destroyed since
  });
}

void DouyuClient::stop_on_loop() {
  if (state() == State::kStopping || state() == State::kStopped) return;
  cancel_timer(reconnect_timer_);
  if (!connected()) {
    LOG(INFO) << tag() << "stopped (" << to_string(state()) << ", no logout needed)";
    finish("");
    return;
  }
  state_ = State::kStopping;
  {
    // What any thread queued before stop() leaves before the logout (send_packet refuses from
    // now on).
    std::lock_guard lock(send_mutex_);
    out_ += send_queue_;
    send_queue_.clear();
    send_queue_nonempty_.store(false, std::memory_order_release);
  }
  out_ += logout().bytes();
  close_after_flush_ = true;
  flush_timer_ = loop().call_later(seconds(options_.logout_flush_timeout), [this] {
    flush_timer_ = 0;
    LOG(WARNING) << tag() << "logout not flushed within " << options_.logout_flush_timeout.count()
                 << " ms, closing anyway";
    finish("");
  });
}

void DouyuClient::finish(const std::string& failure) {
  cancel_timers();
  close();
  close_after_flush_ = false;
  if (!failure.empty()) {
    std::lock_guard lock(failure_mutex_);
    failure_ = failure;
  }
  state_ = State::kStopped;
  heartbeat_->stop();
  worker_.stop(options_.deliver_pending_on_stop);
}

void DouyuClient::cancel_timer(TimerId& timer) {
  if (timer != 0) loop().cancel(timer);
  timer = 0;
}

void DouyuClient::cancel_timers() {
  for (TimerId* t : {&reconnect_timer_, &alive_timer_, &flush_timer_, &connect_timer_}) {
    cancel_timer(*t);
  }
}

void DouyuClient::join() {
  if (worker_.on_worker_thread()) {
    throw std::logic_error(
        "DouyuClient::join() called from the message callback: the worker would wait for "
        "itself; call stop() there and join() from another thread");
  }
  if (worker_.on_delivering_thread()) {
    throw std::logic_error(
        "DouyuClient::join() called from the callback of another client on the same "
        "WorkerPool thread, which delivers this client's messages too: it would wait for "
        "itself; join() from a thread that is not a pool thread");
  }
  if (!stopped() && loop().in_loop_thread()) {
    if (loop().in_turn()) {
      throw std::logic_error(
          "DouyuClient::join() called inside a turn of the loop before the client stopped: "
          "the session ends on this very thread; call stop(), let the loop run until "
          "stopped(), then join()");
    }
    if (state() == State::kIdle && !stop_requested_) {
      throw std::logic_error("DouyuClient::join() on a client neither started nor stopped");
    }
    // No loop() is running: run it here until the session has ended (logout sent, closed).
    while (!stopped()) loop().poll(0.05);
  }
  heartbeat_->join();
  worker_.join();
}

std::string DouyuClient::failure() const {
  std::lock_guard lock(failure_mutex_);
  return failure_;
}

}  // namespace asyncore::douyu

#include "douyu/douyu_client.h"

#include <glog/logging.h>

#include <cstring>

#include "core/exception_text.h"
#include "douyu/requests.h"
#include "douyu/typed_messages.h"

namespace asyncore::douyu {

namespace {
constexpr size_t kReadChunk = 64 * 1024;
// Reads per readiness event: enough to drain a busy socket in few turns, few enough that one
// flooding room does not starve the others on the same loop.
constexpr int kReadsPerEvent = 4;

double seconds(std::chrono::milliseconds ms) { return static_cast<double>(ms.count()) / 1000.0; }
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

DouyuClient::DouyuClient(Loop& loop, DouyuClientOptions options, Callback callback)
    : Dispatcher(loop),
      options_(std::move(options)),
      dead_timeout_(options_.dead_timeout.count() > 0 ? options_.dead_timeout
                                                      : 2 * options_.heartbeat_interval),
      decoder_(FrameDecoderOptions{options_.max_frame_length, kServerToClient, true}),
      backoff_(options_.backoff_initial, options_.backoff_max),
      worker_(options_.receive_high_water, std::move(callback),
              // Reading was paused for back-pressure and the queue drained: ask readable() again.
              [this] { this->loop().wake(); }),
      heartbeat_(options_.heartbeat_interval, [this] { send_packet(mrkl()); }) {
  read_buffer_.resize(kReadChunk);
}

DouyuClient::DouyuClient(Loop& loop, DouyuClientOptions options, DouyuHandler& handler)
    : DouyuClient(loop, std::move(options), [&handler](const Message& m) { handler.dispatch(m); }) {
}

DouyuClient::~DouyuClient() {
  if (!stopped()) {
    cancel_timers();
    close();
    state_ = State::kStopped;
  }
  heartbeat_.stop();
  worker_.stop(options_.deliver_pending_on_stop);
  join();
}

std::string DouyuClient::tag() const {
  return "[room " + options_.room_id + " " + options_.host + ":" + std::to_string(options_.port) +
         "] ";
}

void DouyuClient::start() {
  if (state() != State::kIdle) return;
  connect_now();
}

void DouyuClient::connect_now() {
  reconnect_timer_ = 0;
  if (stop_requested_) return;
  state_ = State::kConnecting;
  LOG(INFO) << tag() << "connecting";
  try {
    connect(options_.host, options_.port);
  } catch (...) {
    connection_lost("cannot connect: " + current_exception_text());
  }
}

// ---------------------------------------------------------------- the send queue

void DouyuClient::send_packet(const Packet& packet) {
  const State s = state();
  if (s != State::kLoggingIn && s != State::kJoined && s != State::kConnecting) {
    LOG(WARNING) << tag() << "not connected (" << to_string(s) << "): dropped outgoing '"
                 << packet.body() << "'";
    return;
  }
  {
    std::lock_guard lock(send_mutex_);
    send_queue_ += packet.bytes();
    send_queue_nonempty_.store(true, std::memory_order_release);
  }
  loop().wake();  // the loop asks writable() again at once
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
  if (close_after_flush_ && out_sent_ == out_.size() && !send_queue_nonempty_) {
    LOG(INFO) << tag() << "logout sent, closing";
    finish("");
  }
}

// ---------------------------------------------------------------- the session

void DouyuClient::handle_connect() {
  LOG(INFO) << tag() << "connected to " << addr().to_string() << ", logging in";
  state_ = State::kLoggingIn;
  last_receive_ = std::chrono::steady_clock::now();
  decoder_.reset();
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
  return !worker_.should_pause();
}

void DouyuClient::handle_read() {
  std::string lost_reason;
  for (int i = 0; i < kReadsPerEvent; ++i) {
    const ssize_t n = recv(read_buffer_.data(), read_buffer_.size());
    if (n <= 0) return;  // nothing now, or closed (handle_close ran)
    last_receive_ = std::chrono::steady_clock::now();
    bytes_received_.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
    const bool ok = decoder_.feed(std::string_view(read_buffer_.data(), static_cast<size_t>(n)),
                                  [&](const FrameView& frame) {
                                    batch_.emplace_back(std::string(frame.body));
                                    on_message_loop_side(batch_.back(), lost_reason);
                                  });
    frames_received_.fetch_add(batch_.size(), std::memory_order_relaxed);
    // The good frames before a bad one are delivered too.
    worker_.push_batch(batch_);
    if (!ok) {
      LOG(ERROR) << tag() << "malformed frame from " << addr().to_string() << ": "
                 << decoder_.error_message();
      lost_reason = std::string("malformed frame (") + frame_error_name(decoder_.error()) + ")";
    }
    if (!lost_reason.empty()) {
      connection_lost(lost_reason);
      return;
    }
    if (static_cast<size_t>(n) < read_buffer_.size() || worker_.should_pause()) return;
  }
}

void DouyuClient::on_message_loop_side(const Message& m, std::string& lost_reason) {
  const std::string_view type = m.type();
  if (type == LoginResponse::kType && state() == State::kLoggingIn) {
    LOG(INFO) << tag() << "logged in, joining group " << options_.group_id;
    out_ += joingroup(options_.room_id, options_.group_id).bytes();
    state_ = State::kJoined;
    backoff_.reset();
    heartbeat_.trigger();
  } else if (type == ServerError::kType) {
    const auto error = ServerError::from(m);
    if (error.code != 0) lost_reason = "server sent error code " + std::to_string(error.code);
  }
}

void DouyuClient::check_alive() {
  if (!connected() && !connecting()) return;
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
  if (decoder_.buffered() > 0) {
    reason += " in the middle of a frame (" + std::to_string(decoder_.buffered()) + " bytes kept)";
  }
  connection_lost(reason);
}

void DouyuClient::handle_error() { connection_lost(current_exception_text()); }

void DouyuClient::connection_lost(const std::string& reason) {
  heartbeat_.pause();
  if (alive_timer_ != 0) {
    loop().cancel(alive_timer_);
    alive_timer_ = 0;
  }
  const size_t unsent = out_.size() - out_sent_;
  close();
  out_.clear();
  out_sent_ = 0;
  {
    std::lock_guard lock(send_mutex_);
    send_queue_.clear();
    send_queue_nonempty_.store(false, std::memory_order_release);
  }
  decoder_.reset();
  if (stop_requested_ || state() == State::kStopping) {
    finish("");
    return;
  }
  LOG(WARNING) << tag() << "connection lost: " << reason
               << (unsent > 0 ? " (" + std::to_string(unsent) + " unsent bytes dropped)" : "");
  if (!options_.reconnect) {
    finish(reason);
    return;
  }
  const auto delay = backoff_.next();
  reconnects_.fetch_add(1, std::memory_order_relaxed);
  LOG(INFO) << tag() << "reconnecting in " << delay.count() << " ms (reconnect #" << reconnects()
            << ")";
  state_ = State::kWaitingToReconnect;
  reconnect_timer_ = loop().call_later(seconds(delay), [this] { connect_now(); });
}

// ---------------------------------------------------------------- stopping

void DouyuClient::stop() {
  if (stop_requested_.exchange(true)) return;
  heartbeat_.pause();
  heartbeat_.stop();  // the heartbeat thread ends now; no more mrkl
  loop().call_soon_threadsafe([this] { stop_on_loop(); });
}

void DouyuClient::stop_on_loop() {
  if (state() == State::kStopping || state() == State::kStopped) return;
  if (reconnect_timer_ != 0) {
    loop().cancel(reconnect_timer_);
    reconnect_timer_ = 0;
  }
  if (!connected()) {
    LOG(INFO) << tag() << "stopped (" << to_string(state()) << ", no logout needed)";
    finish("");
    return;
  }
  state_ = State::kStopping;
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
  heartbeat_.stop();
  worker_.stop(options_.deliver_pending_on_stop);
}

void DouyuClient::cancel_timers() {
  for (TimerId* t : {&reconnect_timer_, &alive_timer_, &flush_timer_}) {
    if (*t != 0) loop().cancel(*t);
    *t = 0;
  }
}

void DouyuClient::join() {
  heartbeat_.join();
  worker_.join();
}

std::string DouyuClient::failure() const {
  std::lock_guard lock(failure_mutex_);
  return failure_;
}

}  // namespace asyncore::douyu

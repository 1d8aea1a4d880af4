#include "douyu/simulator/douyu_server.h"

#include <glog/logging.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <limits>
#include <stdexcept>
#include <vector>

#include "douyu/client/transport.h"
#include "douyu/protocol/frame_decoder.h"
#include "douyu/protocol/packet.h"
#include "douyu/protocol/stt.h"

namespace asyncore::douyu {

namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kStopReadingBytes = 1024 * 1024;  // a peer that never reads our answers
constexpr uint32_t kMaxRequestLength = 64 * 1024;

int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string error_body(int code) { return "type@=error/code@=" + std::to_string(code) + "/"; }

// A frame whose two length fields differ (the second is one more): the malformed_after fault.
void append_malformed_frame(std::string& out) {
  const size_t at = out.size();
  append_frame(out, "type@=chatmsg/rid@=0/txt@=malformed/", kServerToClient);
  out[at + 4] = static_cast<char>(out[at + 4] + 1);
}

}  // namespace

// ------------------------------------------------------------------------------------ Session

// One accepted connection: the server side of a session (see the header for the protocol).
class DouyuServer::Session : public Dispatcher {
 public:
  Session(Loop& loop, Socket sock, const Address& peer, DouyuServer* server, uint64_t id)
      : Dispatcher(loop, std::move(sock)),
        server_(server),
        peer_(peer),
        peer_text_(peer.to_string()),
        id_(id),
        decoder_(FrameDecoderOptions{
            .max_length = kMaxRequestLength, .expected_type = kClientToServer, .strict = true}) {}

  ~Session() override {
    if (!finished_ && server_ != nullptr) server_->session_closed(this);
  }

  // ---- Dispatcher ----
  bool readable() override { return pending() < kStopReadingBytes; }
  bool writable() override {
    return !write_shut_ && (pending() > 0 || (flooding() && can_produce()));
  }
  void handle_read() override;
  void handle_write() override { flush(); }
  void handle_close() override { finished_ ? close() : finish(); }

  // Bookkeeping with the server, then close(). Idempotent.
  void finish() {
    if (finished_) return;
    finished_ = true;
    if (linger_timer_ != 0) loop().cancel(linger_timer_);
    linger_timer_ = 0;
    if (server_ != nullptr) server_->session_closed(this);
    close();
  }
  // The server is going away: the peer sees EOF now; close() follows on the next loop turn.
  // (Not close() now: the server's destructor may be running inside the loop's release of the
  // dispatchers closed this turn, where closing another shared-owned dispatcher is not safe.)
  void detach() {
    server_ = nullptr;
    finished_ = true;
    if (linger_timer_ != 0) loop().cancel(linger_timer_);
    linger_timer_ = 0;
    write_shut_ = true;
    if (fileno() >= 0) ::shutdown(fileno(), SHUT_RDWR);
    std::weak_ptr<Dispatcher> weak = weak_from_this();
    loop().call_soon_threadsafe([weak] {
      if (auto self = weak.lock()) self->close();
    });
  }

  // Rate mode, from the server's tick timer: queue what is due by now.
  void rate_tick(Clock::time_point now) {
    if (!can_produce()) return;
    const double elapsed = std::chrono::duration<double>(now - stream_start_).count();
    const auto due = static_cast<uint64_t>(std::ceil(server_->options_.rate * elapsed));
    while (rate_produced_ < due && can_produce() && pending() < kHighWaterBytes) {
      produce_one();
      ++rate_produced_;
    }
  }
  void ping(int64_t tick_ms) {
    if (phase_ == Phase::kNew || closing_ || server_->options_.silent) return;
    queue_control("type@=pingreq/tick@=" + std::to_string(tick_ms) + "/");
  }

  int64_t room_id() const { return room_id_; }
  bool joined() const { return phase_ == Phase::kJoined; }
  uint64_t flushed_seq() const { return flushed_seq_; }
  bool sent_room_messages() const { return sent_ > 0; }

 private:
  enum class Phase { kNew, kLoggedIn, kJoined };

  size_t pending() const { return out_.size() - out_pos_; }
  bool flooding() const { return server_ != nullptr && server_->options_.flood > 0; }
  bool can_produce() const {
    if (phase_ != Phase::kJoined || closing_ || server_ == nullptr) return false;
    const SimulatorOptions& o = server_->options_;
    if (o.silent) return false;
    if (o.flood > 0 && produced_ >= o.flood) return false;
    return o.drop_after == 0 || produced_ < o.drop_after;
  }

  void on_frame(const FrameView& frame);
  void handle_request(const Message& request);
  void join(const Message& request);
  void produce_one();
  void queue_control(std::string_view body) { append_frame(out_, body, kServerToClient); }
  void close_after_flush();
  void shutdown_write();
  void flush();

  DouyuServer* server_;
  Address peer_;
  std::string peer_text_;
  uint64_t id_;
  FrameDecoder decoder_;
  Phase phase_ = Phase::kNew;
  bool finished_ = false;
  bool closing_ = false;     // flushing what is queued, then FIN
  bool write_shut_ = false;  // FIN sent: input is read and discarded until the peer's EOF
  TimerId linger_timer_ = 0;
  int64_t room_id_ = 0;
  RoomStream* stream_ = nullptr;

  // Output: unsent bytes are out_[out_pos_, size). Offsets below are absolute stream positions.
  std::string out_;
  size_t out_pos_ = 0;
  uint64_t bytes_sent_ = 0;
  std::deque<std::pair<uint64_t, uint64_t>> in_flight_;  // (end offset, seq) of queued messages

  uint64_t next_seq_ = 1;     // seq of the next message produced
  uint64_t flushed_seq_ = 0;  // last seq the kernel took entirely
  uint64_t produced_ = 0;     // room messages queued on this connection
  uint64_t sent_ = 0;         // room messages the kernel took on this connection
  uint64_t rate_produced_ = 0;
  Clock::time_point stream_start_;
};

void DouyuServer::Session::handle_read() {
  static thread_local std::vector<char> buffer(kReadChunk);
  const ssize_t n = recv(buffer.data(), buffer.size());
  if (n <= 0) return;       // nothing now, or closed (handle_close ran)
  if (write_shut_) return;  // closing: the rest of the input does not matter
  const bool ok = decoder_.feed(std::string_view(buffer.data(), static_cast<size_t>(n)),
                                [this](const FrameView& frame) {
                                  if (!finished_ && !write_shut_) on_frame(frame);
                                });
  if (!ok && !finished_) {
    LOG(ERROR) << "douyu simulator: malformed frame from " << peer_text_ << ": "
               << decoder_.error_message() << " — closing the connection";
    if (server_ != nullptr) ++server_->stats_.bad_frames;
    finish();
  }
}

void DouyuServer::Session::on_frame(const FrameView& frame) {
  Message request{std::string(frame.body)};
  LOG(INFO) << peer_text_ << " " << frame.body;
  if (server_ == nullptr) return;
  if (server_->on_request) server_->on_request(request, peer_);
  if (finished_ || server_ == nullptr || closing_) return;
  handle_request(request);
}

void DouyuServer::Session::handle_request(const Message& request) {
  const SimulatorOptions& o = server_->options_;
  SimulatorStats& stats = server_->stats_;
  const std::string_view type = request.type();
  if (type == "loginreq") {
    const auto room = request.get_int("roomid");
    if (!room || *room <= 0) {
      LOG(WARNING) << "douyu simulator: " << peer_text_ << " loginreq with bad roomid '"
                   << request.get_or("roomid") << "': error 204";
      queue_control(error_body(204));
      close_after_flush();
      return;
    }
    if (o.send_error_after_login) {
      queue_control(error_body(52));
      close_after_flush();
      return;
    }
    if (phase_ == Phase::kJoined && *room != room_id_) {
      LOG(WARNING) << "douyu simulator: " << peer_text_ << " loginreq for room " << *room
                   << " while streaming room " << room_id_ << ": ignored";
      return;
    }
    ++stats.logins;
    if (phase_ == Phase::kNew) phase_ = Phase::kLoggedIn;
    room_id_ = *room;
    const std::string id = std::to_string(id_);
    SttWriter w(384);
    w.add("type", "loginres").add("userid", static_cast<int64_t>(100000 + id_));
    w.add("roomgroup", 0).add("pg", 0).add("sessionid", static_cast<int64_t>(id_));
    w.add("username", "visitor" + id).add("nickname", "visitor" + id).add("live_stat", 1);
    w.add("is_illegal", 0).add("ill_ct", "").add("ill_ts", 0);
    w.add("now", unix_ms() / 1000).add("ps", 0).add("es", 0).add("it", 0).add("its", 0);
    w.add("npv", 0).add("best_dlev", 0).add("cur_lev", 0).add("nrc", 0).add("ih", 0);
    w.add("sid", static_cast<int64_t>(id_)).add("sahf", 0);
    queue_control(w.str());
  } else if (type == "joingroup") {
    join(request);
  } else if (type == "mrkl") {
    ++stats.heartbeats;
    if (!o.silent) queue_control("type@=mrkl/");
  } else if (type == "keeplive") {
    ++stats.heartbeats;
    if (!o.silent) {
      queue_control(
          std::move(SttWriter(64).add("type", "keeplive").add("tick", request.get_or("tick")))
              .str());
    }
  } else if (type == "logout") {
    ++stats.logouts;
    close_after_flush();
  } else {
    LOG(WARNING) << "douyu simulator: " << peer_text_ << " unknown request type '" << type
                 << "': ignored";
  }
}

void DouyuServer::Session::join(const Message& request) {
  if (phase_ == Phase::kNew) {
    LOG(WARNING) << "douyu simulator: " << peer_text_ << " joingroup before loginreq: error 51";
    queue_control(error_body(51));
    close_after_flush();
    return;
  }
  const auto rid = request.get_int("rid");
  if (!rid || *rid != room_id_) {
    LOG(WARNING) << "douyu simulator: " << peer_text_ << " joingroup rid '" << request.get_or("rid")
                 << "' is not the login room " << room_id_ << ": error 204";
    queue_control(error_body(204));
    close_after_flush();
    return;
  }
  if (phase_ == Phase::kJoined) {
    LOG(WARNING) << "douyu simulator: " << peer_text_ << " joingroup again: ignored";
    return;
  }
  ++server_->stats_.joins;
  phase_ = Phase::kJoined;
  stream_ = &server_->room(room_id_);
  next_seq_ = stream_->resume_after() + 1;
  flushed_seq_ = stream_->resume_after();
  stream_start_ = Clock::now();
  server_->start_streaming(this);
}

void DouyuServer::Session::produce_one() {
  const uint64_t seq = next_seq_++;
  append_seq_frame(out_, stream_->body(seq), seq);
  in_flight_.emplace_back(bytes_sent_ + pending(), seq);
  ++produced_;
  const SimulatorOptions& o = server_->options_;
  if (o.malformed_after != 0 && produced_ == o.malformed_after) append_malformed_frame(out_);
  if (o.drop_after != 0 && produced_ == o.drop_after) {
    LOG(INFO) << "douyu simulator: " << peer_text_ << " drop_after " << o.drop_after
              << " reached: closing after flushing";
    close_after_flush();
  }
}

void DouyuServer::Session::close_after_flush() {
  if (closing_) return;
  closing_ = true;
  if (server_ != nullptr) server_->stop_streaming(this);
  if (pending() == 0) shutdown_write();
}

void DouyuServer::Session::shutdown_write() {
  if (write_shut_ || finished_) return;
  write_shut_ = true;
  shutdown_output();
  std::weak_ptr<Dispatcher> weak = weak_from_this();
  linger_timer_ = loop().call_later(kLingerSeconds, [weak] {
    if (auto self = weak.lock()) {
      auto* s = static_cast<Session*>(self.get());
      s->linger_timer_ = 0;
      s->finish();
    }
  });
}

void DouyuServer::Session::flush() {
  if (write_shut_) return;
  for (;;) {
    if (flooding()) {
      while (pending() < kLowWaterBytes && can_produce()) {
        // Produce in batches up to the high-water mark: one send() per ~256 KiB.
        while (pending() < kHighWaterBytes && can_produce()) produce_one();
      }
    }
    // Over ws/wss each send() is one WebSocket message: a receiver decodes nothing before a
    // message is whole, so messages stay small, as a live proxy's are (many frames each).
    const size_t want =
        layer() != nullptr ? std::min(pending(), kWebSocketMessageBytes) : pending();
    if (want == 0) break;
    const size_t n = send(out_.data() + out_pos_, want);
    if (finished_ || !is_open()) return;  // the peer went away (handle_close ran)
    if (n == 0) break;
    out_pos_ += n;
    bytes_sent_ += n;
    while (!in_flight_.empty() && in_flight_.front().first <= bytes_sent_) {
      flushed_seq_ = in_flight_.front().second;
      in_flight_.pop_front();
      ++sent_;
      if (server_ != nullptr) ++server_->stats_.room_messages_sent;
    }
    if (pending() == 0) {
      out_.clear();
      out_pos_ = 0;
    } else if (out_pos_ >= out_.size() / 2) {
      out_.erase(0, out_pos_);
      out_pos_ = 0;
    }
    if (n < want) break;  // the kernel is full: wait for the next write event
  }
  if (closing_ && pending() == 0) shutdown_write();
}

// ------------------------------------------------------------------------------------ DouyuServer

DouyuServer::DouyuServer(Loop& loop, const Address& listen_on, SimulatorOptions options)
    : Dispatcher(loop), options_(std::move(options)) {
  if (options_.transport == Transport::kWss && (!options_.tls || !options_.tls->is_server()))
    throw std::invalid_argument("DouyuServer: wss needs SimulatorOptions::tls, a server context");
  if (!options_.replay_file.empty()) replay_ = load_replay_file(options_.replay_file);
  create_socket(listen_on.family(), SOCK_STREAM);
  set_reuse_addr();
  bind(listen_on);
  listen(1024);
  address_ = Address::local_of(fileno());
  LOG(INFO) << "douyu simulator: listening on " << transport_scheme(options_.transport) << "://"
            << address_.to_string();
}

DouyuServer::~DouyuServer() {
  if (tick_timer_ != 0) loop().cancel(tick_timer_);
  if (ping_timer_ != 0) loop().cancel(ping_timer_);
  tick_timer_ = ping_timer_ = 0;
  const std::vector<Session*> sessions(sessions_.begin(), sessions_.end());
  sessions_.clear();
  rate_streaming_.clear();
  for (Session* s : sessions) s->detach();
}

void DouyuServer::handle_accept() {
  // A burst of connects (1,000 clients at once) is drained in one event, not one per turn.
  for (int i = 0; i < 256 && is_open(); ++i) {
    auto pair = accept();
    if (!pair) break;
    handle_accepted(std::move(pair->first), pair->second);
  }
}

void DouyuServer::handle_accepted(Socket sock, const Address& addr) {
  ++stats_.connections;
  auto session = make_dispatcher<Session>(loop(), std::move(sock), addr, this, next_session_id_++);
  sessions_.insert(session.get());
  use_server_transport(*session, options_.transport, options_.tls);
  if (ping_timer_ == 0 && options_.ping_interval > 0) {
    ping_timer_ = loop().call_every(options_.ping_interval, [this] { on_ping(); });
  }
}

RoomStream& DouyuServer::room(int64_t room_id) {
  auto& slot = rooms_[room_id];
  if (!slot) {
    slot = replay_ ? std::make_unique<RoomStream>(replay_)
                   : std::make_unique<RoomStream>(options_.seed, room_id);
  }
  return *slot;
}

void DouyuServer::start_streaming(Session* s) {
  if (options_.flood > 0 || options_.rate <= 0 || options_.silent) return;
  rate_streaming_.insert(s);
  if (tick_timer_ == 0) tick_timer_ = loop().call_every(kTickSeconds, [this] { on_tick(); });
}

void DouyuServer::stop_streaming(Session* s) {
  rate_streaming_.erase(s);
  if (rate_streaming_.empty() && tick_timer_ != 0) {
    loop().cancel(tick_timer_);
    tick_timer_ = 0;
  }
}

void DouyuServer::session_closed(Session* s) {
  sessions_.erase(s);
  stop_streaming(s);
  if (s->joined() && s->sent_room_messages()) room(s->room_id()).set_resume_after(s->flushed_seq());
  if (sessions_.empty() && ping_timer_ != 0) {
    loop().cancel(ping_timer_);
    ping_timer_ = 0;
  }
}

void DouyuServer::on_tick() {
  // Only queues (no send, no close); the sessions write from handle_write() in this same turn's
  // wait. A session reaching drop_after leaves rate_streaming_, hence the snapshot.
  const Clock::time_point now = Clock::now();
  tick_snapshot_.assign(rate_streaming_.begin(), rate_streaming_.end());
  for (Session* s : tick_snapshot_) s->rate_tick(now);
}

void DouyuServer::on_ping() {
  const int64_t tick = unix_ms();
  for (Session* s : sessions_) s->ping(tick);
}

}  // namespace asyncore::douyu

#include "web/event_stream.h"

#include <glog/logging.h>

#include <utility>

namespace asyncore::web {

namespace {
constexpr std::string_view kKeepAlive = ": keep-alive\n\n";
}

void append_event(std::string& out, std::string_view data) {
  size_t start = 0;
  while (true) {
    const size_t end = data.find_first_of("\r\n", start);
    out += "data: ";
    out += data.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    out += '\n';
    if (end == std::string_view::npos) break;
    start = end + 1;
    if (data[end] == '\r' && start < data.size() && data[start] == '\n') ++start;
    if (start == data.size()) break;  // a final line break ends the last line, adds none
  }
  out += '\n';
}

// ---------------------------------------------------------------- EventPublisher (any thread)

void EventPublisher::post(std::string framed, size_t events) {
  if (framed.empty()) return;
  std::lock_guard lock(mutex_);
  if (closed_) return;
  pending_bytes_ += framed.size();
  pending_.push_back({std::move(framed), events});
  // The loop is behind: the oldest events go (the newest is what a live overlay wants to show).
  while (pending_bytes_ > max_pending_bytes_ && pending_.size() > 1) {
    pending_bytes_ -= pending_.front().bytes.size();
    dropped_events_ += pending_.front().events;
    pending_.pop_front();
  }
  if (drain_queued_) return;
  drain_queued_ = true;
  // Under the mutex: ~EventStream sets closed_ under it, so the Loop (which outlives the stream)
  // is still there.
  loop_.call_soon_threadsafe([self = shared_from_this()] { self->drain(); });
}

void EventPublisher::drain() {
  std::deque<Batch> batches;
  {
    std::lock_guard lock(mutex_);
    batches.swap(pending_);
    pending_bytes_ = 0;
    drain_queued_ = false;
  }
  if (stream_ == nullptr) return;
  // One drain goes to every browser in this turn, before any socket can take more than its
  // buffer: a backlog past a browser's bound would drop every browser, the fast ones too. The
  // newest half of that bound is published; older batches are dropped and counted as the queue's
  // own drops are (the newest events matter most to a live overlay).
  const size_t keep = stream_->options().max_buffered_bytes / 2;
  size_t bytes = 0;
  for (const Batch& b : batches) bytes += b.bytes.size();
  uint64_t trimmed = 0;
  while (batches.size() > 1 && bytes > keep) {
    bytes -= batches.front().bytes.size();
    trimmed += batches.front().events;
    batches.pop_front();
  }
  uint64_t dropped = 0;
  {
    std::lock_guard lock(mutex_);
    dropped_events_ += trimmed;
    dropped = dropped_events_;
  }
  stream_->note_dropped_events(dropped);
  for (const Batch& b : batches) stream_->publish_framed(b.bytes, b.events);
}

// ---------------------------------------------------------------- EventStream (loop thread)

EventStream::EventStream(Loop& loop, EventStreamOptions options)
    : loop_(loop),
      options_(options),
      publisher_(new EventPublisher(loop, options.max_pending_bytes)) {
  publisher_->stream_ = this;
  if (options_.keep_alive_interval > 0) {
    // `this` is safe: the destructor cancels the timer, on the thread that runs it.
    keep_alive_timer_ =
        loop_.call_every(options_.keep_alive_interval, [this] { write_all(kKeepAlive); });
  }
}

EventStream::~EventStream() {
  uint64_t dropped = 0;
  {
    std::lock_guard lock(publisher_->mutex_);
    publisher_->closed_ = true;
    // What is still queued reaches no browser now: counted with the other drops.
    for (const EventPublisher::Batch& b : publisher_->pending_) {
      publisher_->dropped_events_ += b.events;
    }
    publisher_->pending_.clear();
    dropped = publisher_->dropped_events_;
  }
  // The drops since the last once-a-second WARNING are reported, not left unsaid.
  note_dropped_events(dropped, /*now_or_never=*/true);
  publisher_->stream_ = nullptr;
  if (keep_alive_timer_ != 0) loop_.cancel(keep_alive_timer_);
  close_all();
}

void EventStream::publish(std::string_view data) {
  std::string framed;
  append_event(framed, data);
  publish_framed(framed, 1);
}

void EventStream::publish_framed(std::string_view framed, size_t events) {
  published_events_ += events;
  write_all(framed);
}

void EventStream::write_all(std::string_view bytes) {
  if (bytes.empty() || subscribers() == 0) return;
  writing_ = true;
  // By index: a write may close its subscriber, which leaves a hole (remove()).
  for (size_t i = 0; i < subscribers_.size(); ++i) {
    EventSubscriber* s = subscribers_[i];
    if (s == nullptr) continue;
    const size_t held = s->buffered();
    if (held + bytes.size() > options_.max_buffered_bytes) {
      LOG(WARNING) << "event stream: dropping " << s->name() << ": it does not read (" << held
                   << " bytes unsent, and " << bytes.size() << " more would pass its "
                   << options_.max_buffered_bytes << "-byte buffer)";
      ++dropped_subscribers_;
      remove(s);
      s->drop();
      continue;
    }
    s->write(bytes);
  }
  writing_ = false;
  compact();
}

void EventStream::add(EventSubscriber* s) {
  subscribers_.push_back(s);
  publisher_->subscribers_.fetch_add(1, std::memory_order_relaxed);
  if (options_.retry_ms > 0) s->write("retry: " + std::to_string(options_.retry_ms) + "\n\n");
}

void EventStream::remove(EventSubscriber* s) {
  for (auto& slot : subscribers_) {
    if (slot != s) continue;
    slot = nullptr;
    ++holes_;
    publisher_->subscribers_.fetch_sub(1, std::memory_order_relaxed);
    break;
  }
  if (!writing_) compact();
}

void EventStream::compact() {
  if (holes_ == 0) return;
  std::erase(subscribers_, nullptr);
  holes_ = 0;
}

void EventStream::close_all() {
  // drop() closes the subscriber, whose close calls remove(): work on a copy.
  const std::vector<EventSubscriber*> all = subscribers_;
  for (EventSubscriber* s : all) {
    if (s == nullptr) continue;
    remove(s);
    s->drop();
  }
}

uint64_t EventStream::dropped_events() const {
  std::lock_guard lock(publisher_->mutex_);
  return publisher_->dropped_events_;
}

void EventStream::note_dropped_events(uint64_t total, bool now_or_never) {
  if (total == dropped_events_logged_) return;
  const auto now = std::chrono::steady_clock::now();
  if (!now_or_never && now - last_drop_log_ < std::chrono::seconds(1)) return;
  LOG(WARNING) << "event stream: the loop is behind the threads posting events: "
               << total - dropped_events_logged_ << " event(s) dropped (" << total
               << " in all), the oldest first";
  dropped_events_logged_ = total;
  last_drop_log_ = now;
}

}  // namespace asyncore::web

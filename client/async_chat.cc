#include "client/async_chat.h"

#include <glog/logging.h>

#include <cstring>
#include <stdexcept>

namespace asyncore {

size_t find_prefix_at_end(std::string_view haystack, std::string_view needle) {
  if (needle.empty()) return 0;
  for (size_t l = needle.size() - 1; l > 0; --l) {
    if (haystack.ends_with(needle.substr(0, l))) return l;
  }
  return 0;
}

AsyncChat::~AsyncChat() = default;

// ---------------------------------------------------------------- terminator

void AsyncChat::set_terminator(std::string_view bytes) {
  terminator_.kind = Terminator::Kind::kBytes;
  terminator_.bytes.assign(bytes);
  terminator_.count = 0;
}

void AsyncChat::set_terminator(std::nullopt_t) {
  terminator_.kind = Terminator::Kind::kNone;
  terminator_.bytes.clear();
  terminator_.count = 0;
}

void AsyncChat::set_terminator_count(uint64_t count) {
  terminator_.kind = Terminator::Kind::kCount;
  terminator_.bytes.clear();
  terminator_.count = count;
}

void AsyncChat::throw_negative_terminator(int64_t count) {
  throw std::invalid_argument(
      "AsyncChat::set_terminator: the number of received bytes must be "
      "positive (got " +
      std::to_string(count) + ")");
}

std::string AsyncChat::get_data() {
  std::string out = std::move(incoming_);
  incoming_.clear();
  return out;
}

// ---------------------------------------------------------------- input

void AsyncChat::handle_read() {
  // Keep the unprocessed tail (at most a terminator prefix) at the front, then read after it into
  // the reused buffer: no allocation per read.
  const size_t kept = in_end_ - in_begin_;
  if (in_begin_ > 0) {
    if (kept > 0) std::memmove(in_.get(), in_.get() + in_begin_, kept);
    in_begin_ = 0;
    in_end_ = kept;
  }
  if (in_capacity_ < kept + in_buffer_size_) {
    size_t capacity = kept + in_buffer_size_;
    std::unique_ptr<char[]> bigger(new char[capacity]);  // not zeroed: recv fills it
    if (kept > 0) std::memcpy(bigger.get(), in_.get(), kept);
    in_ = std::move(bigger);
    in_capacity_ = capacity;
  }
  ssize_t n = recv(in_.get() + in_end_, in_buffer_size_);
  if (n < 0) return;  // nothing to read now (asynchat ignores BlockingIOError)
  in_end_ += static_cast<size_t>(n);
  process_input();
}

void AsyncChat::process_input() {
  // asynchat's handle_read() loop. Indices are advanced *before* each callback, so a callback may
  // change the terminator, discard_buffers() or close() and the loop sees the new state. Once a
  // callback closed the dispatcher, the rest of the input is dropped unprocessed: a closed
  // dispatcher receives no further events (asynchat would go on calling found_terminator()).
  auto closed = [this] {
    if (is_open()) return false;
    in_begin_ = in_end_ = 0;
    return true;
  };
  while (in_begin_ < in_end_ && !closed()) {
    std::string_view buf(in_.get() + in_begin_, in_end_ - in_begin_);
    const size_t lb = buf.size();
    if (terminator_.collects_all()) {
      in_begin_ = in_end_ = 0;
      collect_incoming_data(buf);
    } else if (terminator_.kind == Terminator::Kind::kCount) {
      const uint64_t n = terminator_.count;
      if (lb < n) {
        in_begin_ = in_end_ = 0;
        terminator_.count = n - lb;  // counts down across reads
        collect_incoming_data(buf);
      } else {
        in_begin_ += n;
        collect_incoming_data(buf.substr(0, n));
        if (closed()) break;
        set_terminator_count(0);
        found_terminator();
      }
    } else {
      const std::string_view term = terminator_.bytes;
      const void* hit = term.size() == 1 ? std::memchr(buf.data(), term[0], lb)
                                         : memmem(buf.data(), lb, term.data(), term.size());
      if (hit != nullptr) {
        const size_t index = static_cast<const char*>(hit) - buf.data();
        in_begin_ += index + term.size();
        // asynchat does not report the empty string ("source of subtle bugs").
        if (index > 0) collect_incoming_data(buf.substr(0, index));
        if (closed()) break;
        found_terminator();
      } else if (size_t prefix = find_prefix_at_end(buf, term); prefix != 0) {
        // The buffer ends with the start of the terminator: keep that part for the next read.
        in_begin_ = in_end_ - prefix;
        if (prefix != lb) collect_incoming_data(buf.substr(0, lb - prefix));
        break;
      } else {
        in_begin_ = in_end_ = 0;
        collect_incoming_data(buf);
      }
    }
  }
  if (in_begin_ == in_end_) in_begin_ = in_end_ = 0;
}

// ---------------------------------------------------------------- output

bool AsyncChat::push(std::string_view data) {
  if (!is_open()) return false;
  // Coalesce into the last data entry while it stays within ac_out_buffer_size, then split the
  // rest into ac_out_buffer_size pieces (asynchat splits every push).
  if (!fifo_.empty() && fifo_.back().kind == Entry::Kind::kData) {
    std::string& tail = fifo_.back().data;
    if (tail.size() < out_buffer_size_) {
      size_t take = std::min(out_buffer_size_ - tail.size(), data.size());
      tail.append(data.substr(0, take));
      out_bytes_ += take;
      data.remove_prefix(take);
    }
  }
  while (!data.empty()) {
    size_t take = std::min(out_buffer_size_, data.size());
    fifo_.push_back(Entry{Entry::Kind::kData, std::string(data.substr(0, take)), 0, nullptr});
    out_bytes_ += take;
    data.remove_prefix(take);
  }
  if (out_bytes_ > max_pending_) max_pending_ = out_bytes_;
  initiate_send();
  check_high_water();
  return is_open();
}

bool AsyncChat::push_with_producer(std::unique_ptr<Producer> producer) {
  if (!is_open()) return false;
  if (!producer) return true;
  fifo_.push_back(Entry{Entry::Kind::kProducer, {}, 0, std::move(producer)});
  initiate_send();
  return true;
}

bool AsyncChat::push_with_producer(std::string data) {
  // As push(): once closed, nothing more is queued (asynchat would queue it and never send it).
  if (!is_open()) return false;
  out_bytes_ += data.size();
  if (out_bytes_ > max_pending_) max_pending_ = out_bytes_;
  fifo_.push_back(Entry{Entry::Kind::kData, std::move(data), 0, nullptr});
  initiate_send();
  check_high_water();
  return is_open();
}

void AsyncChat::close_when_done() { fifo_.push_back(Entry{Entry::Kind::kClose, {}, 0, nullptr}); }

void AsyncChat::discard_buffers() {
  in_begin_ = in_end_ = 0;
  incoming_.clear();
  fifo_.clear();
  out_bytes_ = 0;
}

void AsyncChat::initiate_send() {
  while (!fifo_.empty() && connected()) {
    Entry& first = fifo_.front();
    if (first.kind == Entry::Kind::kClose) {
      fifo_.pop_front();
      handle_close();
      return;
    }
    if (first.kind == Entry::Kind::kProducer) {
      std::string data = first.producer->more();
      if (data.empty()) {
        fifo_.pop_front();
      } else {
        out_bytes_ += data.size();
        fifo_.push_front(Entry{Entry::Kind::kData, std::move(data), 0, nullptr});
      }
      continue;
    }
    const size_t left = first.data.size() - first.offset;
    if (left == 0) {  // asynchat drops empty entries
      fifo_.pop_front();
      continue;
    }
    // 0: would block, or the peer left (handle_close() already ran).
    const size_t sent = Dispatcher::send(first.data.data() + first.offset, left);
    if (sent == 0) return;
    out_bytes_ -= sent;
    if (sent < left) {
      first.offset += sent;
      return;  // the socket is full: wait for the next write event
    }
    fifo_.pop_front();
  }
}

void AsyncChat::set_high_water_mark(size_t bytes, HighWaterCallback callback) {
  high_water_mark_ = bytes;
  on_high_water_ = std::move(callback);
  check_high_water();
}

void AsyncChat::check_high_water() {
  if (high_water_mark_ == 0 || out_bytes_ <= high_water_mark_ || !is_open()) return;
  const size_t buffered = out_bytes_;
  if (on_high_water_) on_high_water_(buffered);
  LOG(WARNING) << repr() << ": output queue holds " << buffered
               << " bytes, above the high-water mark of " << high_water_mark_ << " bytes; peer "
               << addr().to_string() << " is not reading: closing the connection";
  discard_buffers();
  if (is_open()) close();
}

}  // namespace asyncore

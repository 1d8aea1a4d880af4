#include "samples/danmaku/output.h"

#include <limits.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace danmaku {

namespace {

constexpr size_t kFlushAt = 64 * 1024;  // write once this much is buffered, caught up or not
constexpr int kPollSliceMs = 100;       // how often a waiting writer looks at the abandon flags

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

uint64_t count_lines(std::string_view s) {
  return static_cast<uint64_t>(std::count(s.begin(), s.end(), '\n'));
}

}  // namespace

void LineWriter::write_line(std::string_view line, bool flush_now) {
  std::lock_guard lock(mutex_);
  if (error() != 0) {
    lost_lines_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  buffer_.append(line);
  if (flush_now || buffer_.size() >= kFlushAt) drain_locked();
}

void LineWriter::flush() {
  std::lock_guard lock(mutex_);
  if (!buffer_.empty()) drain_locked();
}

void LineWriter::abandon_after(std::chrono::milliseconds grace) {
  const int64_t at = now_ns() + std::chrono::nanoseconds(grace).count();
  int64_t cur = abandon_at_ns_.load(std::memory_order_relaxed);
  while (at < cur && !abandon_at_ns_.compare_exchange_weak(cur, at, std::memory_order_relaxed)) {
  }
}

bool LineWriter::abandoned() const {
  return abandon_now_.load(std::memory_order_relaxed) ||
         now_ns() >= abandon_at_ns_.load(std::memory_order_relaxed);
}

bool LineWriter::idle_within(std::chrono::milliseconds patience) {
  std::unique_lock lock(state_mutex_);
  if (!draining_) return true;
  const uint64_t current = drains_done_;
  return state_changed_.wait_for(lock, patience, [&] { return drains_done_ != current; });
}

void LineWriter::drain_locked() {
  {
    std::lock_guard state(state_mutex_);
    draining_ = true;
  }
  size_t off = 0;
  while (off < buffer_.size()) {
    pollfd p{fd_, POLLOUT, 0};
    const int ready = ::poll(&p, 1, abandoned() ? 0 : kPollSliceMs);
    if (ready < 0) {
      if (errno == EINTR) continue;
      error_.store(errno, std::memory_order_release);
      break;
    }
    if (ready == 0) {
      if (abandoned()) break;
      continue;
    }
    if ((p.revents & POLLNVAL) != 0) {
      error_.store(EBADF, std::memory_order_release);
      break;
    }
    // POLLOUT on a pipe means at least one free page: PIPE_BUF bytes never block.
    const size_t n = std::min<size_t>(buffer_.size() - off, PIPE_BUF);
    const ssize_t w = ::write(fd_, buffer_.data() + off, n);
    if (w < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      error_.store(errno, std::memory_order_release);
      break;
    }
    written_lines_.fetch_add(count_lines(std::string_view(buffer_).substr(off, w)),
                             std::memory_order_relaxed);
    off += static_cast<size_t>(w);
  }
  buffer_.erase(0, off);
  if (!buffer_.empty()) lose_buffer_locked();
  {
    std::lock_guard state(state_mutex_);
    draining_ = false;
    ++drains_done_;
  }
  state_changed_.notify_all();
}

void LineWriter::lose_buffer_locked() {
  lost_lines_.fetch_add(count_lines(buffer_), std::memory_order_relaxed);
  buffer_.clear();
}

}  // namespace danmaku

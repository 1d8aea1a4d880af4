#include "samples/danmaku/output.h"

#include <limits.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

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
  uint64_t n = 0;
  const char* p = s.data();
  const char* const end = p + s.size();
  while (const void* nl = std::memchr(p, '\n', static_cast<size_t>(end - p))) {
    ++n;
    p = static_cast<const char*>(nl) + 1;
  }
  return n;
}

bool is_regular_file(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

LineWriter::LineWriter(int fd) : fd_(fd), regular_file_(is_regular_file(fd)) {}

void LineWriter::write_lines(std::string_view lines, uint64_t count, bool flush_now) {
  std::lock_guard lock(mutex_);
  if (lines.empty()) {
    if (flush_now && !buffer_.empty()) drain_locked();
    return;
  }
  if (error() != 0) {
    lost_lines_.fetch_add(count, std::memory_order_relaxed);
    return;
  }
  if (buffer_.empty() && (flush_now || lines.size() >= kFlushAt)) {
    write_out_locked(lines, count);  // straight from the caller's batch
    return;
  }
  buffer_.append(lines);
  buffered_lines_ += count;
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
  write_out_locked(buffer_, buffered_lines_);
  buffer_.clear();
  buffered_lines_ = 0;
}

void LineWriter::write_out_locked(std::string_view data, uint64_t lines) {
  {
    std::lock_guard state(state_mutex_);
    draining_ = true;
  }
  size_t off = 0;
  uint64_t lines_done = 0;
  while (off < data.size()) {
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
    const size_t n =
        regular_file_ ? data.size() - off : std::min<size_t>(data.size() - off, PIPE_BUF);
    const ssize_t w = ::write(fd_, data.data() + off, n);
    if (w < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      error_.store(errno, std::memory_order_release);
      break;
    }
    off += static_cast<size_t>(w);
    // The last write completes the lines still counted as pending; others are counted.
    const uint64_t done = off == data.size()
                              ? lines - lines_done
                              : count_lines(data.substr(off - static_cast<size_t>(w), w));
    lines_done += done;
    written_lines_.fetch_add(done, std::memory_order_relaxed);
  }
  if (off < data.size()) lost_lines_.fetch_add(lines - lines_done, std::memory_order_relaxed);
  {
    std::lock_guard state(state_mutex_);
    draining_ = false;
    ++drains_done_;
  }
  state_changed_.notify_all();
}

}  // namespace danmaku

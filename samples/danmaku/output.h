// output.h — douyu_danmaku's stdout: whole lines, buffered, written with write(2) so that a
// stuck, closed or full output can never hang or silently mislead the program.
//
//   * Lines are kept in a buffer and written when the caller says it has caught up (flush()), or
//     when 64 KiB are waiting: a pipe gets every line as soon as the worker is idle. Callers hand
//     lines over in batches (write_lines), so the lock is taken once per batch, not per line; a
//     large batch with nothing buffered before it is written from the caller's memory.
//   * A write waits in poll() slices of 100 ms, at most PIPE_BUF bytes at a time (all at once to a
//     regular file, which has no reader to wait for), so a reader that stops reading blocks the
//     writer but never beyond abandon(): after the deadline given there
//     (or at once, after abandon_now(), which is async-signal-safe), pending and later lines are
//     dropped and counted in lost_lines().
//   * A failed write (EPIPE, ENOSPC, EIO, ...) drops the buffer, keeps the errno in error(), and
//     counts every line not written from then on as lost.
// Thread-safe: several rooms' worker threads write through one LineWriter.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

namespace danmaku {

class LineWriter {
 public:
  explicit LineWriter(int fd);
  LineWriter(const LineWriter&) = delete;
  LineWriter& operator=(const LineWriter&) = delete;

  // Appends one line (with its '\n'); writes when `flush_now` or when the buffer is large.
  void write_line(std::string_view line, bool flush_now) { write_lines(line, 1, flush_now); }
  // Appends `count` whole lines (`lines` holds exactly `count` '\n', the last at its end).
  void write_lines(std::string_view lines, uint64_t count, bool flush_now);
  // Writes what is buffered (waits while the reader does not read, up to the abandon deadline).
  void flush();

  // From now on, a write that waits gives up once `grace` has passed (shutdown).
  void abandon_after(std::chrono::milliseconds grace);
  // A write that waits gives up at once. Async-signal-safe (a lock-free atomic store).
  void abandon_now() { abandon_now_.store(true, std::memory_order_relaxed); }

  // 0 until a write failed; then its errno.
  int error() const { return error_.load(std::memory_order_acquire); }
  // Lines not written: dropped after a write error or once abandoned.
  uint64_t lost_lines() const { return lost_lines_.load(std::memory_order_relaxed); }
  uint64_t written_lines() const { return written_lines_.load(std::memory_order_relaxed); }
  // False when a write has been holding the output up for all of `patience` (a reader that does
  // not read); true as soon as no write is in progress.
  bool idle_within(std::chrono::milliseconds patience);

 private:
  void drain_locked();
  // Writes `data` (`lines` lines); what cannot be written (error, abandoned) is counted lost.
  void write_out_locked(std::string_view data, uint64_t lines);
  bool abandoned() const;

  const int fd_;
  const bool regular_file_;  // no reader to wait for: written in one go
  std::mutex mutex_;         // held by the writer for a whole write
  // For idle_within() (a timed_mutex would do, but TSan does not follow its timed lock).
  std::mutex state_mutex_;
  std::condition_variable state_changed_;
  bool draining_ = false;        // guarded by state_mutex_
  uint64_t drains_done_ = 0;     // guarded by state_mutex_
  std::string buffer_;           // guarded by mutex_
  uint64_t buffered_lines_ = 0;  // guarded by mutex_: lines in buffer_
  std::atomic<int> error_{0};
  std::atomic<bool> abandon_now_{false};
  std::atomic<int64_t> abandon_at_ns_{INT64_MAX};  // steady_clock, since its epoch
  std::atomic<uint64_t> lost_lines_{0};
  std::atomic<uint64_t> written_lines_{0};
};

}  // namespace danmaku

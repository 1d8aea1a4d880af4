// FrameBatch: the bodies of the frames of one socket read, packed back to back into one buffer —
// what the loop thread hands the worker thread (MessageWorker) in one lock.
//
// Why bodies and their decoded fields, not Messages: a body is decoded once, in place in the
// batch (stt_decode_fields_in_place: field offsets, escaped values unescaped where they lie, no
// copy of a value), by the loop thread or the worker; the worker lends each frame to its one
// Message (lend()) and delivers it. A batch costs four allocations however many frames it holds,
// and none once recycled: the worker hands drained batches back, cleared, capacity kept. Queued
// memory is the wire's size plus 20 bytes per decoded field (see memory_bytes()). Which thread
// decodes is decided per read (add() or add_unscanned(), see DouyuClient::handle_read()).
#pragma once

#include <algorithm>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "douyu/protocol/message.h"
#include "douyu/protocol/stt.h"

namespace asyncore::douyu {

class FrameBatch {
 public:
  static constexpr size_t kLargeBody = 64 * 1024;

  // Appends a body and decodes it (the loop thread, while the worker is the busier one).
  void add(std::string_view body) { append(body, true); }
  // Appends a body without decoding it: the thread that takes the batch decodes it (scan()). The
  // reading thread does this while the worker has little queued, so that a worker with time to
  // spare takes the decoding over and the two threads share the work whichever is busier.
  // A batch is decoded whole or not at all: its first body decides, for add() and add_unscanned().
  void add_unscanned(std::string_view body) { append(body, false); }
  bool scanned() const { return !unscanned_; }
  // Decodes the bodies of a batch filled by add_unscanned(); nothing to do for one filled by add().
  void scan() {
    if (!unscanned_) return;
    unscanned_ = false;
    for (size_t i = 0; i < ends_.size(); ++i) scan_body(body_begin(i), ends_[i]);
  }
  // Room for `bytes` of bodies in `frames` frames, and their fields at one per kBytesPerField.
  // Reserved once per read: grown by doubling instead, a 64 KiB read's ~4,100 fields end in a
  // vector of 8,192 (160 KB), which pushed the batch over what MessageWorker keeps for reuse.
  void reserve(size_t bytes, size_t frames) {
    bytes_.reserve(bytes_.size() + bytes);
    ends_.reserve(ends_.size() + frames);
    field_ends_.reserve(field_ends_.size() + frames);
    fields_.reserve(fields_.size() + bytes / kBytesPerField);
  }
  // Real rooms: ~16 bytes of STT per top-level field (PROTOCOL.md's chatmsg: 284 bytes, 18).
  static constexpr size_t kBytesPerField = 12;
  size_t size() const { return ends_.size(); }
  bool empty() const { return ends_.empty(); }
  // The bytes of the bodies it holds (not its capacity).
  size_t body_bytes() const { return bytes_.size(); }
  // The i-th body (STT text without the frame's NUL; unescaped in place where its fields were
  // escaped, once decoded: read it through fields(i)); valid until the batch is changed.
  std::string_view body(size_t i) const {
    return {bytes_.data() + body_begin(i), ends_[i] - body_begin(i)};
  }
  // The fields of the i-th body, as stt_decode_fields_in_place gives them (offsets into body(i),
  // sizes unescaped, no escape flags). Decoded batches only.
  std::span<const RawField> fields(size_t i) const {
    return {fields_.data() + fields_begin(i), field_ends_[i] - fields_begin(i)};
  }
  // Points `message` at the i-th body and its fields (Message::borrow_decoded(): no copy); valid
  // until the batch is changed. Decoded batches only (scan() first).
  void lend(size_t i, Message& message) const {
    message.borrow_decoded(bytes_.data() + body_begin(i), ends_[i] - body_begin(i), fields(i));
  }
  // What the batch holds in memory (capacity, not size): the unit of the receive queue's byte
  // bound. A body of many tiny fields costs its scanned fields too (20 bytes each).
  size_t memory_bytes() const {
    return sizeof(FrameBatch) + bytes_.capacity() + ends_.capacity() * sizeof(size_t) +
           fields_.capacity() * sizeof(RawField) + field_ends_.capacity() * sizeof(size_t);
  }
  // What a queue counted for this batch when it took it (memory_bytes() then): counted down by
  // the same amount, though scanning later adds fields.
  size_t queued_bytes() const { return queued_bytes_; }
  void set_queued_bytes(size_t bytes) { queued_bytes_ = bytes; }
  // Empties the batch for reuse; gives the memory back when it grew beyond `keep_bytes` (one
  // maximum-size frame must not pin a megabyte per recycled batch).
  void recycle(size_t keep_bytes) {
    if (memory_bytes() > keep_bytes) {
      // Swapped with fresh ones: moving an empty string in keeps the old buffer (libstdc++).
      std::string().swap(bytes_);
      std::vector<size_t>().swap(ends_);
      RawFieldBuffer().swap(fields_);
      std::vector<size_t>().swap(field_ends_);
    } else {
      bytes_.clear();
      ends_.clear();
      fields_.clear();
      field_ends_.clear();
    }
    unscanned_ = false;
    queued_bytes_ = 0;
  }

 private:
  void append(std::string_view body, bool decode_now) {
    if (ends_.empty()) unscanned_ = !decode_now;
    const size_t base = bytes_.size();
    bytes_.append(body);
    ends_.push_back(bytes_.size());
    if (!unscanned_) scan_body(base, bytes_.size());
  }
  // Decodes the body in bytes_[begin, end) in place, its fields into fields_, and closes its
  // entry in field_ends_.
  void scan_body(size_t begin, size_t end) {
    // A large body (a hostile one: 1 MiB of "a/a/..." is 524,288 fields) gets its fields' room in
    // one allocation: grown by doubling, the vector left freed chunks of every size behind it,
    // which the allocator kept (peak RSS 155 MiB instead of 97 under such a flood).
    if (end - begin > kLargeBody) {
      fields_.reserve(fields_.size() +
                      std::count(bytes_.begin() + begin, bytes_.begin() + end, '/') + 1);
    }
    stt_decode_fields_in_place(bytes_.data() + begin, end - begin, fields_);
    field_ends_.push_back(fields_.size());
  }

  size_t body_begin(size_t i) const { return i == 0 ? 0 : ends_[i - 1]; }
  size_t fields_begin(size_t i) const { return i == 0 ? 0 : field_ends_[i - 1]; }

  std::string bytes_;               // the bodies, back to back
  std::vector<size_t> ends_;        // end offset of each body in bytes_
  RawFieldBuffer fields_;           // the fields of every body, offsets into its own body
  std::vector<size_t> field_ends_;  // end index of each body's fields in fields_
  bool unscanned_ = false;          // filled by add_unscanned(), not scanned yet: no fields
  size_t queued_bytes_ = 0;
};

}  // namespace asyncore::douyu

// FrameBatch: the bodies of the frames of one socket read, packed back to back into one buffer —
// what the loop thread hands the worker thread (MessageWorker) in one lock.
//
// Why bodies and their scanned fields, not decoded Messages: the loop thread splits frames and
// scans each body's fields (offsets only, no copy of a value); the worker thread lends each frame
// to its one Message (lend(): decoded in place, unescaped, no copy) and delivers it. The two
// threads share the decoding work. A batch costs four allocations however many frames it holds,
// and none once recycled: the worker hands drained batches back, cleared, capacity kept. Queued
// memory is the wire's size plus 20 bytes per scanned field (see memory_bytes()).
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

  // Appends a body and its fields: the loop thread scans it (stt_scan_fields), the worker only
  // unescapes and delivers — the decoding work is split between the two threads.
  void add(std::string_view body) {
    const size_t base = bytes_.size();
    bytes_.append(body);
    ends_.push_back(bytes_.size());
    // A large body (a hostile one: 1 MiB of "a/a/..." is 524,288 fields) gets its fields' room in
    // one allocation: grown by doubling, the vector left freed chunks of every size behind it,
    // which the allocator kept (peak RSS 155 MiB instead of 97 under such a flood).
    if (body.size() > kLargeBody) {
      fields_.reserve(fields_.size() + std::count(body.begin(), body.end(), '/') + 1);
    }
    stt_scan_fields(std::string_view(bytes_).substr(base), fields_);
    field_ends_.push_back(fields_.size());
  }
  // Room for `bytes` more body bytes and `frames` more frames, so that filling the batch from one
  // read does not grow (and copy) it step by step.
  void reserve(size_t bytes, size_t frames) {
    bytes_.reserve(bytes_.size() + bytes);
    ends_.reserve(ends_.size() + frames);
    field_ends_.reserve(field_ends_.size() + frames);
  }
  size_t size() const { return ends_.size(); }
  bool empty() const { return ends_.empty(); }
  // The bytes of the bodies it holds (not its capacity).
  size_t body_bytes() const { return bytes_.size(); }
  // The i-th body (STT text without the frame's NUL); valid until the batch is changed.
  std::string_view body(size_t i) const {
    return {bytes_.data() + body_begin(i), ends_[i] - body_begin(i)};
  }
  // The fields of the i-th body, as stt_scan_fields gives them (offsets into body(i)).
  std::span<const RawField> fields(size_t i) const {
    return {fields_.data() + fields_begin(i), field_ends_[i] - fields_begin(i)};
  }
  // The i-th body and fields for Message::borrow(): the worker decodes them in place (unescaping
  // rewrites the body and the fields' sizes), once, before the batch is recycled.
  void lend(size_t i, Message& message) {
    message.borrow(
        bytes_.data() + body_begin(i), ends_[i] - body_begin(i),
        std::span<RawField>(fields_.data() + fields_begin(i), field_ends_[i] - fields_begin(i)));
  }
  // What the batch holds in memory (capacity, not size): the unit of the receive queue's byte
  // bound. A body of many tiny fields costs its scanned fields too (20 bytes each).
  size_t memory_bytes() const {
    return sizeof(FrameBatch) + bytes_.capacity() + ends_.capacity() * sizeof(size_t) +
           fields_.capacity() * sizeof(RawField) + field_ends_.capacity() * sizeof(size_t);
  }
  // Empties the batch for reuse; gives the memory back when it grew beyond `keep_bytes` (one
  // maximum-size frame must not pin a megabyte per recycled batch).
  void recycle(size_t keep_bytes) {
    if (memory_bytes() > keep_bytes) {
      // Swapped with fresh ones: moving an empty string in keeps the old buffer (libstdc++).
      std::string().swap(bytes_);
      std::vector<size_t>().swap(ends_);
      std::vector<RawField>().swap(fields_);
      std::vector<size_t>().swap(field_ends_);
    } else {
      bytes_.clear();
      ends_.clear();
      fields_.clear();
      field_ends_.clear();
    }
  }

 private:
  size_t body_begin(size_t i) const { return i == 0 ? 0 : ends_[i - 1]; }
  size_t fields_begin(size_t i) const { return i == 0 ? 0 : field_ends_[i - 1]; }

  std::string bytes_;               // the bodies, back to back
  std::vector<size_t> ends_;        // end offset of each body in bytes_
  std::vector<RawField> fields_;    // the fields of every body, offsets into its own body
  std::vector<size_t> field_ends_;  // end index of each body's fields in fields_
};

}  // namespace asyncore::douyu

// FrameBatch: the frames of one socket read in one buffer — the bytes as received, frames in
// place (DouyuClient reads into it: receive_space()), or bodies copied back to back (add()) —
// what the loop thread hands the worker thread (MessageWorker) in one lock.
//
// Why bodies and their decoded fields, not Messages: a body is decoded at most once, in place in
// the batch (stt_decode_fields_in_place: field offsets, escaped values unescaped where they lie,
// no copy of a value): by the loop thread, for every body of a read, while the worker is behind;
// else by the worker, for each body whose fields its callback reads (the worker lends each frame
// to its one Message, lend(i, message, scratch), undecoded: see Message::borrow_undecoded()).
// A batch costs five allocations however many frames it holds, and none once recycled: the worker
// hands drained batches back, cleared, capacity kept. Queued memory is the wire's size plus 20
// bytes per field decoded on the loop thread (see memory_bytes()). Which thread may decode is
// decided per read (add_received(body, decode_now), see DouyuClient::handle_read()).
#pragma once

#include <algorithm>
#include <cstddef>
#include <span>
#include <stdexcept>
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
  // Appends a body without decoding it: the thread that takes the batch decodes it, all at once
  // (scan()) or each body when it is read (lend(i, message, scratch)). The reading thread does
  // this while the worker has little queued, so that a worker with time to spare takes the
  // decoding over and the two threads share the work whichever is busier.
  // A batch is decoded whole or not at all: its first body decides, for add() and add_unscanned().
  void add_unscanned(std::string_view body) { append(body, false); }
  bool scanned() const { return !unscanned_; }

  // The zero-copy way in, for a reader that receives straight into the batch (DouyuClient): the
  // batch then holds the stream's bytes as they came, headers included, and its frames are views
  // of their bodies in place — no body is copied on the reading thread.
  //   char* p = batch.receive_space(n); ... recv(p, n) ... batch.received(got);
  //   then add_received(body) for each whole frame the decoder finds in received_bytes().
  // The bytes after the last whole frame (a frame still arriving) are moved out with take_tail()
  // before the batch is handed over, and start the next one.
  // Room for `n` more received bytes: exactly that in an empty batch (the reader sizes its
  // batches), at least twice what it holds otherwise (a large frame arriving read by read).
  char* receive_space(size_t n) {
    bytes_.reserve(std::max(bytes_.size() + n, 2 * bytes_.size()));
    return bytes_.data() + bytes_.size();
  }
  // `n` bytes were written at receive_space().
  void received(size_t n) { bytes_.set_size(bytes_.size() + n); }
  // Appends a copy of received bytes (a read made elsewhere).
  void received(std::string_view data) { bytes_.append(data.data(), data.size()); }
  size_t receive_capacity() const { return bytes_.capacity(); }
  // Every byte the batch holds, from its start: bodies added by add() and received bytes.
  std::string_view received_bytes() const { return {bytes_.data(), bytes_.size()}; }
  // Adds a frame whose body lies in received_bytes() (a view into it); decoded now or by the
  // thread that takes the batch, as add() and add_unscanned().
  void add_received(std::string_view body, bool decode_now) {
    const size_t begin = static_cast<size_t>(body.data() - bytes_.data());
    add_frame(begin, begin + body.size(), decode_now);
  }
  // Moves the received bytes from `from` on (a frame still arriving) into `tail`, and drops them
  // from the batch, before the batch is handed over: they start the next batch.
  void take_tail(size_t from, std::string& tail) {
    tail.assign(bytes_.data() + from, bytes_.size() - from);
    bytes_.set_size(from);
  }
  // Decodes the bodies of a batch filled by add_unscanned(); nothing to do for one filled by add().
  // Not after lend(i, message, scratch) of the same batch (std::logic_error).
  void scan() {
    if (!unscanned_) return;
    if (lent_undecoded_ > 0) throw std::logic_error("FrameBatch: scan() after a body was lent");
    unscanned_ = false;
    for (size_t i = 0; i < ends_.size(); ++i) scan_body(begins_[i], ends_[i]);
  }
  // Room for `bytes` of bodies in `frames` frames, and their fields at one per kBytesPerField.
  // Reserved once per read: grown by doubling instead, a 64 KiB read's ~4,100 fields end in a
  // vector of 8,192 (160 KB), which pushed the batch over what MessageWorker keeps for reuse.
  void reserve(size_t bytes, size_t frames) {
    bytes_.reserve(bytes_.size() + bytes);
    reserve_frames(frames);
    reserve_fields(bytes);
  }
  // Room for `frames` more frames (their bytes received in place: receive_space()).
  void reserve_frames(size_t frames) {
    begins_.reserve(begins_.size() + frames);
    ends_.reserve(ends_.size() + frames);
    field_ends_.reserve(field_ends_.size() + frames);
  }
  // Room for the fields of `bytes` of bodies decoded now (add(), add_received(body, true)).
  void reserve_fields(size_t bytes) { fields_.reserve(fields_.size() + bytes / kBytesPerField); }
  // Real rooms: ~16 bytes of STT per top-level field (PROTOCOL.md's chatmsg: 284 bytes, 18).
  static constexpr size_t kBytesPerField = 12;
  size_t size() const { return ends_.size(); }
  bool empty() const { return ends_.empty(); }
  // The bytes it holds (not its capacity): its bodies, and their headers when received.
  size_t body_bytes() const { return bytes_.size(); }
  // The i-th body (STT text without the frame's NUL; unescaped in place where its fields were
  // escaped, once decoded: read it through fields(i)); valid until the batch is changed.
  std::string_view body(size_t i) const {
    return {bytes_.data() + begins_[i], ends_[i] - begins_[i]};
  }
  // The fields of the i-th body, as stt_decode_fields_in_place gives them (offsets into body(i),
  // sizes unescaped, no escape flags). Decoded batches only.
  std::span<const RawField> fields(size_t i) const {
    return {fields_.data() + fields_begin(i), field_ends_[i] - fields_begin(i)};
  }
  // Points `message` at the i-th body and its fields (Message::borrow_decoded(): no copy); valid
  // until the batch is changed. Decoded batches only (scan() first).
  void lend(size_t i, Message& message) const {
    message.borrow_decoded(bytes_.data() + begins_[i], ends_[i] - begins_[i], fields(i));
  }
  // The worker's way, for any batch: as lend() above when the batch is decoded; otherwise the
  // i-th body is lent undecoded (Message::borrow_undecoded()), its fields decoded in place into
  // `scratch` on first use, so a callback that reads only the type decodes nothing. A body whose
  // type cannot be read at a glance (Message::peek_type()) is decoded now. Valid until the batch
  // or `scratch` is changed. The Message may decode the body in place, so each body of an
  // unscanned batch is lent at most once, in order, and the batch is not scan()ned after: either
  // would unescape a body twice (std::logic_error).
  void lend(size_t i, Message& message, RawFieldBuffer& scratch) {
    if (!unscanned_) return lend(i, message);
    if (i < lent_undecoded_) throw std::logic_error("FrameBatch: a body lent undecoded again");
    lent_undecoded_ = i + 1;
    char* body = bytes_.data() + begins_[i];
    const size_t size = ends_[i] - begins_[i];
    if (const auto type = Message::peek_type({body, size})) {
      message.borrow_undecoded(body, size, *type, scratch);
    } else {
      scratch.clear();
      decode(body, size, scratch);
      message.borrow_decoded(body, size, {scratch.data(), scratch.size()});
    }
  }
  // Decodes `size` bytes of STT at `body` in place, appending its fields to `out`
  // (stt_decode_fields_in_place). A large body (a hostile one: 1 MiB of "a/a/..." is 524,288
  // fields) gets its fields' room in one allocation: grown by doubling, the buffer left freed
  // chunks of every size behind it, which the allocator kept (peak RSS 155 MiB instead of 97
  // under such a flood).
  static void decode(char* body, size_t size, RawFieldBuffer& out) {
    if (size > kLargeBody) out.reserve(out.size() + std::count(body, body + size, '/') + 1);
    stt_decode_fields_in_place(body, size, out);
  }
  // What the batch holds in memory (capacity, not size): the unit of the receive queue's byte
  // bound. A body of many tiny fields costs its scanned fields too (20 bytes each).
  size_t memory_bytes() const {
    return sizeof(FrameBatch) + bytes_.capacity() +
           (begins_.capacity() + ends_.capacity()) * sizeof(size_t) +
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
      PodBuffer<char>().swap(bytes_);
      std::vector<size_t>().swap(begins_);
      std::vector<size_t>().swap(ends_);
      RawFieldBuffer().swap(fields_);
      std::vector<size_t>().swap(field_ends_);
    } else {
      bytes_.clear();
      begins_.clear();
      ends_.clear();
      fields_.clear();
      field_ends_.clear();
    }
    unscanned_ = false;
    lent_undecoded_ = 0;
    queued_bytes_ = 0;
  }

 private:
  void append(std::string_view body, bool decode_now) {
    const size_t begin = bytes_.size();
    bytes_.append(body.data(), body.size());
    add_frame(begin, bytes_.size(), decode_now);
  }
  void add_frame(size_t begin, size_t end, bool decode_now) {
    if (ends_.empty()) unscanned_ = !decode_now;
    begins_.push_back(begin);
    ends_.push_back(end);
    if (!unscanned_) scan_body(begin, end);
  }
  // Decodes the body in bytes_[begin, end) in place, its fields into fields_, and closes its
  // entry in field_ends_.
  void scan_body(size_t begin, size_t end) {
    decode(bytes_.data() + begin, end - begin, fields_);
    field_ends_.push_back(fields_.size());
  }

  size_t fields_begin(size_t i) const { return i == 0 ? 0 : field_ends_[i - 1]; }

  PodBuffer<char> bytes_;           // the bodies back to back, or the bytes received
  std::vector<size_t> begins_;      // offset of each body in bytes_
  std::vector<size_t> ends_;        // end offset of each body in bytes_
  RawFieldBuffer fields_;           // the fields of every body, offsets into its own body
  std::vector<size_t> field_ends_;  // end index of each body's fields in fields_
  bool unscanned_ = false;          // filled by add_unscanned(), not scanned yet: no fields
  size_t lent_undecoded_ = 0;       // bodies before this one were lent by lend(i, m, scratch)
  size_t queued_bytes_ = 0;
};

}  // namespace asyncore::douyu

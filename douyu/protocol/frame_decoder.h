// FrameDecoder: the incremental, strict decoder of Douyu frames (PROTOCOL.md §1).
//
// Feed it whatever a read() returned — one byte, half a frame, or many frames at once — and it
// hands out each complete frame. It is strict: every malformed header is a distinct error
// (FrameError) with a message naming the frame's stream offset and the offending values, e.g.
// "frame at offset 1234: length 5 below minimum 9".
//
// Cost model (the socket client calls this on its loop thread):
//  - A frame wholly inside the fed slice is handed out as a view into that slice: no copy.
//  - Only a frame split across feeds is copied, into one internal buffer that never holds more
//    than one frame. The header is checked field by field as its bytes arrive, so a forged length
//    is rejected before anything is allocated; the buffer grows with the bytes received, never
//    beyond max_length + 4.
//
// After an error the decoder stays in the error state: every later feed() returns false at once
// and hands out nothing. The stream is unrecoverable (there is no resynchronisation marker in this
// format) — the caller logs error_message() and closes the connection. reset() starts afresh.
//
// Not thread-safe; one decoder per connection.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "douyu/protocol/packet.h"

namespace asyncore::douyu {

enum class FrameError {
  kNone = 0,
  kLengthTooSmall,   // length field below kMinLength (9)
  kLengthTooLarge,   // length field above FrameDecoderOptions::max_length
  kLengthMismatch,   // the two length fields differ
  kUnexpectedType,   // message type not accepted by the options
  kNonZeroEncrypt,   // encrypt byte != 0 (strict mode)
  kNonZeroReserved,  // reserved byte != 0 (strict mode)
  kMissingNul,       // last body byte is not NUL
};

// A short stable name for the error kind ("length_too_small", ...), for logs and metrics.
const char* frame_error_name(FrameError error);

struct FrameDecoderOptions {
  // Largest accepted value of the length field. Also bounds the partial-frame buffer.
  uint32_t max_length = kDefaultMaxLength;
  // The accepted message type: nullopt accepts 689 and 690 (both directions); the client sets
  // kServerToClient, the simulator server kClientToServer. Any other value is always rejected.
  std::optional<uint16_t> expected_type;
  // Reject non-zero encrypt/reserved bytes. Off: they are ignored.
  bool strict = true;
};

// A decoded frame handed to the feed() callback. `body` (STT text without the trailing NUL)
// points into the fed slice or into the decoder's buffer: valid only during the callback. Copy
// it, or call to_frame(), to keep it.
struct FrameView {
  uint16_t type = 0;
  std::string_view body;
  uint64_t offset = 0;  // stream offset of the frame's first byte

  // Bytes the frame occupied on the wire (length + 4).
  size_t size() const { return kHeaderSize + body.size() + 1; }
};

// An owned decoded frame: cheap to move across threads (one std::string, no pointers into it).
struct Frame {
  uint16_t type = 0;
  std::string body;  // STT text without the trailing NUL
  uint64_t offset = 0;

  static Frame from(const FrameView& v) { return Frame{v.type, std::string(v.body), v.offset}; }
};

class FrameDecoder {
 public:
  explicit FrameDecoder(FrameDecoderOptions options = {}) : options_(options) {}
  FrameDecoder(const FrameDecoder&) = delete;
  FrameDecoder& operator=(const FrameDecoder&) = delete;

  // Decodes `data`, calling on_frame(const FrameView&) for every frame it completes, in order.
  // Returns false if the stream is (or already was) malformed; frames before the bad one are still
  // handed out. Bytes of an incomplete frame at the end are kept for the next call.
  template <class OnFrame>
  bool feed(std::string_view data, OnFrame&& on_frame);

  // The in-place form of feed(), for a reader that keeps the stream's bytes itself (DouyuClient
  // reads straight into its FrameBatch): hands out every whole frame at the start of `data`, as
  // views into `data`, and sets `consumed` to the bytes they took. The rest, a frame still
  // arriving, is the caller's to present again at the front of the next call, followed by what
  // arrives after it; its header is checked as far as it is there, so a forged length is rejected
  // before the caller buffers anything for it. Never buffers: not to be mixed with feed().
  template <class OnFrame>
  bool split(std::string_view data, size_t& consumed, OnFrame&& on_frame);

  // Convenience: appends owned copies of the frames to `out`.
  bool feed(std::string_view data, std::vector<Frame>& out) {
    return feed(data, [&out](const FrameView& v) { out.push_back(Frame::from(v)); });
  }

  bool ok() const { return error_ == FrameError::kNone; }
  FrameError error() const { return error_; }
  const std::string& error_message() const { return error_message_; }
  // Stream offset of the first byte not yet consumed into a complete frame (= total bytes fed
  // minus buffered(), while ok()).
  uint64_t offset() const { return offset_; }
  // Bytes of a partial frame held for the next feed().
  size_t buffered() const { return buffer_.size(); }
  // Memory reserved for partial frames (for tests and metrics): <= max_length + 4, and about twice
  // buffered() at most while a frame arrives.
  size_t buffer_capacity() const { return buffer_.capacity(); }
  const FrameDecoderOptions& options() const { return options_; }
  // Forgets buffered bytes and any error; the next byte fed is a frame start at offset 0.
  void reset();

 private:
  // Checks the header fields wholly present in the first `n` (<= 12) bytes at `p`, in wire
  // order, so the verdict never depends on how the stream was split. False = error recorded.
  bool check_header(const char* p, size_t n);
  // Checks the NUL of a complete frame `p` of `size` bytes. False = error recorded.
  bool check_nul(const char* p, size_t size);
  void fail(FrameError error, const std::string& message);
  // Appends to the partial-frame buffer of a frame of `frame_size` bytes. Capacity grows with the
  // bytes actually received (doubling) and is capped at frame_size, so a forged but legal length
  // costs nothing until its bytes arrive, and never more than max_length + 4.
  void buffer_append(const char* p, size_t n, size_t frame_size) {
    const size_t need = buffer_.size() + n;
    if (need > buffer_.capacity()) {
      // Into a fresh string: std::string::reserve may round up to twice the old capacity (and
      // past frame_size); a fresh string's reserve is exact.
      std::string grown;
      grown.reserve(std::min(frame_size, std::max(need, 2 * buffer_.capacity())));
      grown.append(buffer_);
      buffer_.swap(grown);
    }
    buffer_.append(p, n);
  }
  static uint32_t read_u32(const char* p);
  // Hands out the whole frames at the start of [p, p + n), advancing p and n past them; stops at
  // an incomplete one. False = a malformed frame (error recorded).
  template <class OnFrame>
  bool whole_frames(const char*& p, size_t& n, OnFrame& on_frame);

  FrameDecoderOptions options_;
  std::string buffer_;  // a partial frame (header first); never more than one frame
  uint64_t offset_ = 0;
  FrameError error_ = FrameError::kNone;
  std::string error_message_;
};

// ---- implementation of the template ----

template <class OnFrame>
bool FrameDecoder::feed(std::string_view data, OnFrame&& on_frame) {
  if (!ok()) {
    return false;
  }
  const char* p = data.data();
  size_t n = data.size();

  // 1. Complete a partial frame from earlier feeds.
  if (!buffer_.empty()) {
    if (buffer_.size() < kHeaderSize) {
      const size_t take = std::min(n, kHeaderSize - buffer_.size());
      const size_t had = buffer_.size();
      buffer_.append(p, take);
      p += take;
      n -= take;
      // Only re-check if a field became complete (cheap either way).
      if (buffer_.size() > had && !check_header(buffer_.data(), buffer_.size())) {
        return false;
      }
      if (buffer_.size() < kHeaderSize) {
        return true;
      }
    }
    const size_t frame_size = static_cast<size_t>(read_u32(buffer_.data())) + 4;
    const size_t take = std::min(n, frame_size - buffer_.size());
    buffer_append(p, take, frame_size);
    p += take;
    n -= take;
    if (buffer_.size() < frame_size) {
      return true;
    }
    if (!check_nul(buffer_.data(), frame_size)) {
      return false;
    }
    const FrameView view{
        static_cast<uint16_t>(static_cast<uint8_t>(buffer_[8]) |
                              (static_cast<uint8_t>(buffer_[9]) << 8)),
        std::string_view(buffer_.data() + kHeaderSize, frame_size - kHeaderSize - 1), offset_};
    on_frame(view);
    offset_ += frame_size;
    buffer_.clear();
    // Give back a large buffer so an idle connection does not pin up to max_length bytes.
    if (buffer_.capacity() > size_t{64} * 1024) {
      std::string().swap(buffer_);
    }
  }

  // 2. Whole frames straight from `data`: no copy.
  if (!whole_frames(p, n, on_frame)) return false;

  // 3. Keep the tail (a header prefix, or a checked header + part of the body).
  if (n > 0) {
    if (!check_header(p, std::min(n, kHeaderSize))) {
      return false;
    }
    buffer_append(p, n, n >= kHeaderSize ? static_cast<size_t>(read_u32(p)) + 4 : kHeaderSize);
  }
  return true;
}

template <class OnFrame>
bool FrameDecoder::whole_frames(const char*& p, size_t& n, OnFrame& on_frame) {
  while (n >= kHeaderSize) {
    if (!check_header(p, kHeaderSize)) {
      return false;
    }
    const size_t frame_size = static_cast<size_t>(read_u32(p)) + 4;
    if (n < frame_size) {
      break;
    }
    if (!check_nul(p, frame_size)) {
      return false;
    }
    const FrameView view{
        static_cast<uint16_t>(static_cast<uint8_t>(p[8]) | (static_cast<uint8_t>(p[9]) << 8)),
        std::string_view(p + kHeaderSize, frame_size - kHeaderSize - 1), offset_};
    on_frame(view);
    offset_ += frame_size;
    p += frame_size;
    n -= frame_size;
  }
  return true;
}

template <class OnFrame>
bool FrameDecoder::split(std::string_view data, size_t& consumed, OnFrame&& on_frame) {
  consumed = 0;
  if (!ok()) {
    return false;
  }
  const char* p = data.data();
  size_t n = data.size();
  const bool whole = whole_frames(p, n, on_frame);
  consumed = data.size() - n;
  return whole && (n == 0 || check_header(p, std::min(n, kHeaderSize)));
}

}  // namespace asyncore::douyu

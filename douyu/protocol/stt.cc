#include "douyu/protocol/stt.h"

#include <charconv>
#include <cstring>
#include <new>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace asyncore::douyu {

void stt_append_escaped(std::string& out, std::string_view text) {
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '@' || c == '/') {
      out.append(text.data() + start, i - start);
      out.push_back('@');
      out.push_back(c == '@' ? 'A' : 'S');
      start = i + 1;
    }
  }
  out.append(text.data() + start, text.size() - start);
}

std::string stt_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8 + 4);
  stt_append_escaped(out, text);
  return out;
}

void stt_append_unescaped(std::string& out, std::string_view text) {
  if (text.empty()) return;  // maybe a default view: memcpy from nullptr is undefined, even of 0
  const size_t at = out.size();
  out.resize(at + text.size());
  std::memcpy(out.data() + at, text.data(), text.size());
  out.resize(at + stt_unescape_in_place(out.data() + at, text.size()));
}

std::string stt_unescape(std::string_view text) {
  std::string out;
  stt_append_unescaped(out, text);
  return out;
}

size_t stt_unescape_in_place(char* data, size_t size) {
  // One pass: `r` reads, `w` writes; w <= r always, so copying forward over itself is safe. A
  // plain byte loop: escaped values are short (avatar paths, nested lists), where a memchr and
  // a memmove per '@' cost more in calls than they save.
  const char* r = data;
  const char* const end = data + size;
  while (r < end && *r != '@') ++r;
  char* w = data + (r - data);
  while (r < end) {
    if (r[0] == '@' && r + 1 < end && (r[1] == 'A' || r[1] == 'S')) {
      *w++ = r[1] == 'A' ? '@' : '/';
      r += 2;
    } else {
      *w++ = *r++;
    }
  }
  return static_cast<size_t>(w - data);
}

namespace {

// The scanner's steps are lambdas over its locals; GCC stopped inlining them once the function
// grew, and an out-of-line call per '/' and '@' cost more than the step itself.
#if defined(__GNUC__)
#define ASYNCORE_INLINE __attribute__((always_inline))
#else
#define ASYNCORE_INLINE
#endif

// Where the scanner puts its fields. room(k): space for k more emit()s; finish(): at the end.
// Either way a field is built in place by one placement-new, never stored in pieces and then
// copied whole (a store-forwarding stall per field).
// Into a std::vector: a vector's reserved room cannot be written in place, so fields go to a local
// block, appended a block at a time (a push_back per field was an out-of-line call). Raw storage:
// an array of RawField would zero all of its slots on every call.
class VectorOut {
 public:
  static constexpr bool kUnescapesValues = false;
  static constexpr size_t kBlock = 64;  // a 64-byte step emits at most 64 fields
  explicit VectorOut(std::vector<RawField>& out) : out_(out) {}
  ASYNCORE_INLINE void room(size_t k) {
    if (used_ + k > kBlock) finish();
  }
  ASYNCORE_INLINE void emit(size_t key_begin, size_t key_size, size_t value_begin,
                            size_t value_size, uint8_t flags) {
    new (fields() + used_++)
        RawField{static_cast<uint32_t>(key_begin), static_cast<uint32_t>(key_size),
                 static_cast<uint32_t>(value_begin), static_cast<uint32_t>(value_size), flags};
  }
  void finish() {
    out_.insert(out_.end(), fields(), fields() + used_);
    used_ = 0;
  }

 private:
  RawField* fields() { return reinterpret_cast<RawField*>(storage_); }
  std::vector<RawField>& out_;
  alignas(RawField) unsigned char storage_[kBlock * sizeof(RawField)];
  size_t used_ = 0;
};

// Into a RawFieldBuffer: straight to the fields' final place. Its room is checked per field, not
// per step, so that a buffer reserved to the exact count (FrameBatch, for a large body) never
// doubles for room it will not use. kUnescape: keys and values are unescaped in place while the
// scanner goes (their bytes are still in cache, and no second pass over the fields is needed);
// the text after the current byte, which the scanner has yet to read, is never touched.
//   A value's escapes are undone as the scanner meets each of its '@' (value_at()): the run
// since the previous escape moves left by the bytes removed so far, and the escape becomes its
// byte. The scanner finds every '@' anyway, so the value is not read a second time byte by byte
// (that loop was 12 % of the client's profile: every chatmsg's avatar path holds two "@S").
// Keys (rarely escaped) and bare items are unescaped whole when their field ends.
template <bool kUnescape>
class BufferOut {
 public:
  static constexpr bool kUnescapesValues = kUnescape;
  BufferOut(RawFieldBuffer& out, char* text)
      : out_(out), text_(text), next_(out.data() + out.size()), end_(out.data() + out.capacity()) {}
  ASYNCORE_INLINE void room(size_t /*k*/) {}
  // A '@' at `i` inside the value of the current field (after its "@="); `n`: the text's size.
  // "@A" and "@S" become '@' and '/'; any other '@' stays as it is (tolerated, as
  // stt_unescape_in_place does). Writes only before `i + 2`, which the scanner has passed.
  ASYNCORE_INLINE void value_at(size_t i, size_t n) {
    if (i + 1 >= n || (text_[i + 1] != 'A' && text_[i + 1] != 'S')) return;
    const char byte = text_[i + 1] == 'A' ? '@' : '/';
    if (removed_ != 0) std::memmove(text_ + run_ - removed_, text_ + run_, i - run_);
    text_[i - removed_] = byte;
    run_ = i + 2;
    ++removed_;
  }
  // The current field's value ends at `end`: moves its last run into place; returns how many
  // bytes its escapes removed (0 when it had none).
  ASYNCORE_INLINE size_t value_end(size_t end) {
    if (removed_ == 0) return 0;
    std::memmove(text_ + run_ - removed_, text_ + run_, end - run_);
    const size_t removed = removed_;
    removed_ = 0;
    return removed;
  }
  ASYNCORE_INLINE void emit(size_t key_begin, size_t key_size, size_t value_begin,
                            size_t value_size, uint8_t flags) {
    if (next_ == end_) grow();
    if (kUnescape && flags > RawField::kHasSeparator) {
      if (flags & RawField::kKeyEscaped)
        key_size = stt_unescape_in_place(text_ + key_begin, key_size);
      if (flags & RawField::kValueEscaped) {
        value_size = stt_unescape_in_place(text_ + value_begin, value_size);
      }
      flags &= RawField::kHasSeparator;
    }
    new (next_++)
        RawField{static_cast<uint32_t>(key_begin), static_cast<uint32_t>(key_size),
                 static_cast<uint32_t>(value_begin), static_cast<uint32_t>(value_size), flags};
  }
  void finish() { out_.set_size(static_cast<size_t>(next_ - out_.data())); }

 private:
  void grow() {
    finish();
    out_.reserve_more(1);
    next_ = out_.data() + out_.size();
    end_ = out_.data() + out_.capacity();
  }
  RawFieldBuffer& out_;
  char* const text_;
  RawField* next_;
  RawField* end_;
  size_t run_ = 0;      // value_at(): where the bytes not yet moved left begin
  size_t removed_ = 0;  // value_at(): bytes the current value's escapes removed so far
};

// The scanner: one pass over `text`, visiting only the bytes that matter ('/' and '@'), 64 at a
// time with SSE2. All state lives in locals so it stays in registers.
template <bool kList, class Out>
void scan(std::string_view text, Out& out) {
  const char* p = text.data();
  const size_t n = text.size();
  size_t item_start = 0;
  size_t sep = SIZE_MAX;
  uint8_t flags = 0;

  auto end_item = [&](size_t end) ASYNCORE_INLINE {
    if (kList || end > item_start) {
      if (!kList && sep != SIZE_MAX) {
        size_t value_size = end - sep - 2;
        if constexpr (Out::kUnescapesValues) value_size -= out.value_end(end);
        out.emit(item_start, sep - item_start, sep + 2, value_size,
                 static_cast<uint8_t>(flags | RawField::kHasSeparator));
      } else {
        // Bare item (or list item): everything is the value; every '@' seen counts for it.
        out.emit(item_start, 0, item_start, end - item_start,
                 flags != 0 ? uint8_t{RawField::kValueEscaped} : uint8_t{0});
      }
    }
    item_start = end + 1;
    sep = SIZE_MAX;
    flags = 0;
  };
  auto on_byte = [&](size_t i) ASYNCORE_INLINE {
    if (p[i] == '/') {
      end_item(i);
    } else if (kList) {
      flags = RawField::kValueEscaped;
    } else if (sep != SIZE_MAX) {
      if constexpr (Out::kUnescapesValues) {
        out.value_at(i, n);  // undone now: the field comes out unescaped, no flag
      } else {
        flags |= RawField::kValueEscaped;
      }
    } else if (i + 1 < n && p[i + 1] == '=') {
      sep = i;
    } else {
      flags |= RawField::kKeyEscaped;
    }
  };

  size_t i = 0;
#if defined(__SSE2__)
  // 64 bytes per step: four 16-byte compares folded into one 64-bit mask, so the loop over the
  // bytes that matter runs long and its exit is mispredicted once per 64 bytes, not per 16.
  const __m128i slash = _mm_set1_epi8('/');
  const __m128i at = _mm_set1_epi8('@');
  auto block = [&](size_t at_i) ASYNCORE_INLINE {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + at_i));
    return static_cast<uint64_t>(static_cast<uint32_t>(
        _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, slash), _mm_cmpeq_epi8(v, at)))));
  };
  for (; i + 64 <= n; i += 64) {
    uint64_t mask =
        block(i) | (block(i + 16) << 16) | (block(i + 32) << 32) | (block(i + 48) << 48);
    out.room(64);
    while (mask != 0) {
      on_byte(i + static_cast<size_t>(__builtin_ctzll(mask)));
      mask &= mask - 1;
    }
  }
  for (; i + 16 <= n; i += 16) {
    uint64_t mask = block(i);
    out.room(16);
    while (mask != 0) {
      on_byte(i + static_cast<size_t>(__builtin_ctzll(mask)));
      mask &= mask - 1;
    }
  }
#endif
  for (; i < n; ++i) {
    if (p[i] == '/' || p[i] == '@') {
      out.room(1);
      on_byte(i);
    }
  }
  // A final item without its '/': kept only when not empty, in both modes.
  if (n > item_start) {
    out.room(1);
    end_item(n);
  }
  out.finish();
}

}  // namespace

void stt_scan_fields(std::string_view text, std::vector<RawField>& out) {
  VectorOut sink(out);
  scan<false>(text, sink);
}

void stt_scan_fields(std::string_view text, RawFieldBuffer& out) {
  BufferOut<false> sink(out, nullptr);
  scan<false>(text, sink);
}

void stt_decode_fields_in_place(char* text, size_t size, RawFieldBuffer& out) {
  BufferOut<true> sink(out, text);
  scan<false>(std::string_view(text, size), sink);
}

void stt_scan_items(std::string_view text, std::vector<RawField>& out) {
  VectorOut sink(out);
  scan<true>(text, sink);
}

bool stt_looks_like_map(std::string_view text) { return text.find("@=") != std::string_view::npos; }

SttWriter& SttWriter::add(std::string_view key, std::string_view value) {
  stt_append_escaped(text_, key);
  text_.append("@=", 2);
  stt_append_escaped(text_, value);
  text_.push_back('/');
  return *this;
}

SttWriter& SttWriter::add(std::string_view key, int64_t value) {
  char buf[24];
  const auto res = std::to_chars(buf, buf + sizeof buf, value);
  return add(key, std::string_view(buf, static_cast<size_t>(res.ptr - buf)));
}

SttWriter& SttWriter::add_item(std::string_view value) {
  stt_append_escaped(text_, value);
  text_.push_back('/');
  return *this;
}

}  // namespace asyncore::douyu

// Message: a decoded STT body — the ordered list of top-level (key, value) fields of one frame,
// duplicates and wire order kept, with lookup helpers. Every message type decodes to a Message,
// known or not; typed_messages.h gives named fields on top of it.
//
// Decoding is one pass over the body (stt_scan_fields) plus an in-place unescape of the few keys
// and values that contain '@': the Message keeps offsets into its body, so a value that needs no
// unescaping costs no allocation and no copy. It owns its body (one std::string + one vector of
// offsets), except on the receive path, where the worker lends it a FrameBatch's memory
// (borrow_decoded(), or borrow_undecoded(): decoded on first use): a copy of it always owns.
//
// Lazy decoding: a Message lent undecoded knows its type (read at a glance) and decodes its fields
// the first time anything else is asked (size(), key(), get(), a copy...). A callback that looks
// only at type(), to count or to filter, costs no decoding at all. Hence const accessors may write
// (the lent body, unescaped in place, and the field offsets): a lent Message is read on the
// thread it was delivered on, as every delivered Message is; a copy of it is decoded and can go
// anywhere.
//
// Views returned (string_view) point into the Message's body: valid while it lives and is not
// moved or reassigned (and, borrowed, while the lent memory is unchanged). Values are unescaped
// once: a nested value is the text of its own level, ready for get_list()/get_map() or the
// functions of stt_value.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "douyu/protocol/frame_decoder.h"
#include "douyu/protocol/stt.h"
#include "douyu/protocol/stt_value.h"

namespace asyncore::douyu {

class Message {
 public:
  struct Field {
    std::string_view key;
    std::string_view value;
  };

  Message() = default;
  // Decodes `body` (STT text, without the frame's NUL). Never fails: odd input yields what is
  // there (see stt_scan_fields).
  explicit Message(std::string body) : body_(std::move(body)) { decode(); }
  // A copy always owns its storage, also of a borrowing Message (see borrow_decoded()).
  Message(const Message& other) { copy_from(other); }
  Message& operator=(const Message& other) {
    if (this != &other) copy_from(other);
    return *this;
  }
  // A move keeps what the source had: its storage, or what it borrows (undecoded if it was).
  Message(Message&& other) noexcept { move_from(other); }
  Message& operator=(Message&& other) noexcept {
    if (this != &other) move_from(other);
    return *this;
  }
  ~Message() = default;
  static Message from_frame(Frame&& frame) { return Message(std::move(frame.body)); }
  static Message from_view(const FrameView& frame) { return Message(std::string(frame.body)); }
  // Decodes a copy of a new body into this Message's storage (no allocation once its storage is
  // large enough).
  void assign(std::string_view body) {
    body_.assign(body);
    decode();
  }
  // The same, for a body already scanned: `fields` are stt_scan_fields(body)'s output, or
  // stt_decode_fields_in_place()'s (escape flags cleared: nothing left to unescape); only the
  // copy, the unescaping and the type remain to do.
  void assign(std::string_view body, std::span<const RawField> fields) {
    body_.assign(body);
    slots_.assign(fields.begin(), fields.end());
    own();
    type_index_ = unescape_fields(body_.data(), slots_.data(), slots_.size());
  }
  // The receive path's zero-copy form: points this Message at a body decoded IN PLACE in memory
  // it does not own (stt_decode_fields_in_place: unescaped, escape flags cleared), as the
  // worker's FrameBatch lends it; nothing is left to do but find the type. The Message is then
  // valid while that memory is unchanged (the worker delivers it before touching the batch
  // again); copying it makes an owning Message.
  void borrow_decoded(const char* body, size_t size, std::span<const RawField> fields) {
    data_ = body;
    size_ = size;
    fields_ = fields.data();
    count_ = fields.size();
    undecoded_ = nullptr;
    type_index_ = find_type();
  }
  // The lazy form of the same: `body` is NOT decoded yet, and is writable (decoding unescapes it
  // in place); `type` is its type, read at a glance (peek_type(body): the body starts with it).
  // The fields are decoded on first use, into `scratch`, which the lender keeps for the Message
  // and may reuse once it lends the next one. Same validity as borrow_decoded().
  void borrow_undecoded(char* body, size_t size, std::string_view type, RawFieldBuffer& scratch) {
    data_ = body;
    size_ = size;
    fields_ = nullptr;
    count_ = 0;
    type_index_ = -1;
    undecoded_ = body;
    scratch_ = &scratch;
    peeked_type_ = type;
  }

  // type() of `body` without decoding it, when the body starts with a "type@=" field whose value
  // needs no unescaping (every server message does); nullopt otherwise: decode to know.
  static std::optional<std::string_view> peek_type(std::string_view body);

  // False while lent undecoded (borrow_undecoded()) and nothing but its type was read.
  bool decoded() const { return undecoded_ == nullptr; }

  // The value of the first "type" field ("" when there is none). Decodes nothing.
  std::string_view type() const {
    if (undecoded_ != nullptr) return peeked_type_;
    return type_index_ < 0 ? std::string_view() : value(type_index_);
  }

  size_t size() const {
    decode_if_lent();
    return count_;
  }
  bool empty() const { return size() == 0; }
  // Bytes of the (decoded) text the fields point into: at least the sum of their keys' and
  // values' sizes plus the "@=" and "/" between them (an output buffer can be sized from it).
  size_t text_size() const { return size_; }
  std::string_view key(size_t i) const {
    decode_if_lent();
    return {data_ + fields_[i].key_begin, fields_[i].key_size};
  }
  std::string_view value(size_t i) const {
    decode_if_lent();
    return {data_ + fields_[i].value_begin, fields_[i].value_size};
  }
  Field field(size_t i) const { return {key(i), value(i)}; }

  // All fields in wire order, duplicates included: for (auto [k, v] : msg.fields()) ..., or
  // fields[i]. Decodes first if lent undecoded, then holds what the accessors read: a loop that
  // also writes memory (an encoder, a typed view) does not reload the Message per field. Valid
  // while the Message is unchanged.
  class FieldRange;
  FieldRange fields() const;

  // The value of the first field named `key`.
  std::optional<std::string_view> get(std::string_view key) const;
  std::string_view get_or(std::string_view key, std::string_view fallback = {}) const {
    return get(key).value_or(fallback);
  }
  // The first value parsed as a whole decimal integer; nullopt if absent or not a number.
  std::optional<int64_t> get_int(std::string_view key) const;
  int64_t get_int_or(std::string_view key, int64_t fallback) const {
    return get_int(key).value_or(fallback);
  }
  // Every value of `key`, in wire order (keys do repeat: servers send "rid" twice).
  std::vector<std::string_view> get_all(std::string_view key) const;
  bool has(std::string_view key) const { return get(key).has_value(); }

  // On-demand nested decoding of a field (empty when absent). See stt_value.h.
  SttValue::Map get_map(std::string_view key) const { return stt_decode_map(get_or(key)); }
  SttValue::List get_list(std::string_view key) const { return stt_decode_list(get_or(key)); }
  std::vector<SttValue::Map> get_map_list(std::string_view key) const {
    return stt_decode_map_list(get_or(key));
  }
  SttValue get_value(std::string_view key, int max_depth = kDefaultMaxDepth) const {
    return stt_decode_value(get_or(key), max_depth);
  }

  // Canonical STT text of the fields (escaped again). Equal to the wire body for well-formed
  // input; bare items come back as "@=item/".
  std::string encode() const;

  // Heap and inline bytes this Message holds (body + one 20-byte RawField per field + the object):
  // what a queue of them costs, for byte-bounded queues (a body of many empty fields costs far
  // more than its wire size).
  size_t memory_bytes() const {
    return sizeof(Message) + body_.capacity() + slots_.capacity() * sizeof(RawField);
  }

 private:
  void decode();  // fills slots_ and type_index_ from body_, unescaping in place
  // The second half of decoding: `fields` scanned, `data` still escaped. Returns type()'s index.
  static int unescape_fields(char* data, RawField* fields, size_t count);
  // The index of the first "type" field, -1 if none: the first field, on every server message.
  int find_type() const;
  // Lent undecoded (borrow_undecoded()): decodes now. Every accessor but type() calls it first.
  void decode_if_lent() const {
    if (undecoded_ != nullptr) decode_lent();
  }
  void decode_lent() const;
  // Points the accessors at body_ and slots_.
  void own() {
    undecoded_ = nullptr;
    data_ = body_.data();
    size_ = body_.size();
    fields_ = slots_.data();
    count_ = slots_.size();
  }
  void copy_from(const Message& other);
  void move_from(Message& other) noexcept;

  std::string body_;  // the body, with escaped keys/values unescaped in place
  // The scanner's offsets, sizes updated after unescaping (escape flags cleared).
  std::vector<RawField> slots_;
  // What the accessors read: body_ and slots_ (own()), or borrowed memory (borrow_decoded(),
  // borrow_undecoded()). Mutable: a body lent undecoded gets its fields on first use.
  const char* data_ = nullptr;
  size_t size_ = 0;
  mutable const RawField* fields_ = nullptr;
  mutable size_t count_ = 0;
  mutable int type_index_ = -1;
  // Lent undecoded: the body to decode in place (nullptr once decoded, or never lent so), where
  // its fields go, and its type until then.
  mutable char* undecoded_ = nullptr;
  RawFieldBuffer* scratch_ = nullptr;
  std::string_view peeked_type_;
};

class Message::FieldRange {
 public:
  class Iterator {
   public:
    using value_type = Field;
    using difference_type = std::ptrdiff_t;
    Iterator() = default;
    Iterator(const char* text, const RawField* field) : text_(text), field_(field) {}
    Field operator*() const { return field_of(text_, *field_); }
    Iterator& operator++() {
      ++field_;
      return *this;
    }
    Iterator operator++(int) {
      Iterator t = *this;
      ++field_;
      return t;
    }
    bool operator==(const Iterator& o) const { return field_ == o.field_; }

   private:
    const char* text_ = nullptr;
    const RawField* field_ = nullptr;
  };
  using iterator = Iterator;  // the standard name, for range-for and algorithms
  FieldRange(const char* text, const RawField* fields, size_t count)
      : text_(text), fields_(fields), count_(count) {}
  Iterator begin() const { return {text_, fields_}; }
  Iterator end() const { return {text_, fields_ + count_}; }
  size_t size() const { return count_; }
  Field operator[](size_t i) const { return field_of(text_, fields_[i]); }

 private:
  static Field field_of(const char* text, const RawField& f) {
    return {{text + f.key_begin, f.key_size}, {text + f.value_begin, f.value_size}};
  }
  const char* text_;
  const RawField* fields_;
  size_t count_;
};

inline Message::FieldRange Message::fields() const {
  decode_if_lent();
  return FieldRange(data_, fields_, count_);
}

}  // namespace asyncore::douyu

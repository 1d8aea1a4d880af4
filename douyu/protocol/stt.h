// STT, Douyu's text serialization (PROTOCOL.md §2): escaping, a zero-copy scanner of map/list
// text, and a writer.
//
//   map:  key@=value/key@=value/        list: item/item/
//   in keys and values '@' is written "@A" and '/' "@S" (escape '@' first, then '/').
//
// Unescaping is ONE left-to-right pass ("@A"→'@', "@S"→'/'); any other '@' is kept as it is, so
// unescape never fails and unescape(escape(x)) == x for every x. Nesting is escaping once more per
// level: a value that is itself a map or list is that map's text, escaped (see stt_value.h).
//
// The scanner is the hot path: it splits text into offsets (RawField) without copying and marks
// which keys/values contain '@' — only those need unescaping, the rest are usable as views of the
// text as they are. It never fails: odd input yields what is there (see scan_fields).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "douyu/protocol/pod_buffer.h"

namespace asyncore::douyu {

// Escapes '@' → "@A" and '/' → "@S".
std::string stt_escape(std::string_view text);
void stt_append_escaped(std::string& out, std::string_view text);

// One-pass unescape: "@A" → '@', "@S" → '/', anything else verbatim (incl. a final lone '@').
std::string stt_unescape(std::string_view text);
void stt_append_unescaped(std::string& out, std::string_view text);
// Unescapes [data, data + size) over itself (the result is never longer); returns the new size.
size_t stt_unescape_in_place(char* data, size_t size);

// One item of STT text as offsets into that text (not pointers: a text owned by a std::string can
// move without invalidating them). Texts above 4 GiB are not supported (frames are <= 1 MiB).
struct RawField {
  enum Flags : uint8_t {
    kHasSeparator = 1,  // the item had "@="; otherwise a bare item: key empty, value = item
    kKeyEscaped = 2,    // key contains '@': unescape before use
    kValueEscaped = 4,  // value contains '@': unescape before use
  };
  uint32_t key_begin = 0;
  uint32_t key_size = 0;
  uint32_t value_begin = 0;
  uint32_t value_size = 0;
  uint8_t flags = 0;

  std::string_view raw_key(std::string_view text) const { return text.substr(key_begin, key_size); }
  std::string_view raw_value(std::string_view text) const {
    return text.substr(value_begin, value_size);
  }
  bool key_escaped() const { return flags & kKeyEscaped; }
  bool value_escaped() const { return flags & kValueEscaped; }
  bool has_separator() const { return flags & kHasSeparator; }
};

// Scans map text `key@=value/...` and APPENDS its fields to `out` in wire order, duplicates kept.
// Never fails: an item is split at its first "@="; an item without "@=" is a bare item (key empty,
// value = the item); empty items ("//") are skipped; a missing final '/' is tolerated.
void stt_scan_fields(std::string_view text, std::vector<RawField>& out);

// The read path's field store (FrameBatch): the scanner builds each field straight in its final
// place. Appending from a local block instead re-read every field, just stored in pieces, as a
// whole (a store-forwarding stall per field: 9 % of the read path's profile).
using RawFieldBuffer = PodBuffer<RawField>;
// The same scan, written in place into `out`.
void stt_scan_fields(std::string_view text, RawFieldBuffer& out);
// The same scan, and every escaped key and value unescaped in place in `text` as its field ends:
// the fields appended to `out` hold the unescaped sizes, their escape flags cleared. The read
// path's one pass over a body it owns (FrameBatch); Message::borrow_decoded() then has nothing to
// undo.
void stt_decode_fields_in_place(char* text, size_t size, RawFieldBuffer& out);

// Scans list text `item/item/...` and APPENDS its items (as values, key empty) to `out`. Empty
// items are kept (an empty string is a legal list item: the list [""] is "/"); a final item without
// its '/' is kept if not empty.
void stt_scan_items(std::string_view text, std::vector<RawField>& out);

// True when map text has at least one item containing "@=" — the guess PROTOCOL.md §2 describes
// for telling a nested map from a nested list (escaped list items never contain "@=").
bool stt_looks_like_map(std::string_view text);

// Builds STT text: a map with add(), a list with add_item(). Nest by adding the text of another
// writer as a value: add("list", inner.str()) escapes it once more, as the format wants.
//   SttWriter w; w.add("type", "loginreq").add("roomid", 9999);  // "type@=loginreq/roomid@=9999/"
class SttWriter {
 public:
  SttWriter() = default;
  explicit SttWriter(size_t reserve) { text_.reserve(reserve); }

  SttWriter& add(std::string_view key, std::string_view value);
  SttWriter& add(std::string_view key, const char* value) {
    return add(key, std::string_view(value));
  }
  SttWriter& add(std::string_view key, const std::string& value) {
    return add(key, std::string_view(value));
  }
  SttWriter& add(std::string_view key, int64_t value);
  SttWriter& add(std::string_view key, int value) { return add(key, static_cast<int64_t>(value)); }
  SttWriter& add_item(std::string_view value);

  const std::string& str() const& { return text_; }
  std::string str() && { return std::move(text_); }
  void clear() { text_.clear(); }

 private:
  std::string text_;
};

}  // namespace asyncore::douyu

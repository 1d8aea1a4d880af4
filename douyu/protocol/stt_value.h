// SttValue: an STT value as a tree (string, list, or map with ordered, possibly repeated keys),
// with encoding and on-demand decoding of nested values (PROTOCOL.md §2).
//
// The format carries no type marks, so decoding comes in two kinds:
//  - by shape, when the field says what it is: stt_decode_map()/stt_decode_list() decode ONE level
//    (their values/items stay strings — the text of the next level, already unescaped once);
//  - by guess, stt_decode_value(): a text ending with '/' is nested; it is a map when an item
//    holds "@=", else a list; recursively, to max_depth. A plain string that happens to end with
//    '/' is guessed wrongly as nested — use the shape-based calls where the field is known.
//
// "Text" below is always the text OF a level: the message body, or a value after the one unescape
// done by the level above (Message::get() returns exactly that). This is not the hot path: it
// allocates; decode the top level with Message and call these only for the fields you need.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace asyncore::douyu {

class SttValue {
 public:
  using List = std::vector<SttValue>;
  using Map = std::vector<std::pair<std::string, SttValue>>;  // wire order, duplicates kept

  SttValue() = default;                                    // the empty string
  SttValue(std::string s) : data_(std::move(s)) {}         // NOLINT: implicit by design
  SttValue(std::string_view s) : data_(std::string(s)) {}  // NOLINT
  SttValue(const char* s) : data_(std::string(s)) {}       // NOLINT
  SttValue(List l) : data_(std::move(l)) {}                // NOLINT
  SttValue(Map m) : data_(std::move(m)) {}                 // NOLINT

  bool is_string() const { return data_.index() == 0; }
  bool is_list() const { return data_.index() == 1; }
  bool is_map() const { return data_.index() == 2; }
  // Accessors; calling the wrong one throws std::bad_variant_access.
  const std::string& as_string() const { return std::get<std::string>(data_); }
  const List& as_list() const { return std::get<List>(data_); }
  const Map& as_map() const { return std::get<Map>(data_); }
  List& as_list() { return std::get<List>(data_); }
  Map& as_map() { return std::get<Map>(data_); }

  // Map lookup: the first entry with `key`, or nullptr (also when this is not a map).
  const SttValue* find(std::string_view key) const;
  // The string at `key`, or `fallback` when absent or not a string.
  std::string_view get(std::string_view key, std::string_view fallback = {}) const;

  friend bool operator==(const SttValue& a, const SttValue& b) { return a.data_ == b.data_; }

 private:
  std::variant<std::string, List, Map> data_;
};

// The text of a value at its own level: a string is itself; a map is `k@=v/...` and a list
// `i/...`, where each key, value and item is escaped once (nested ones after their own encoding).
std::string stt_encode(const SttValue& value);
void stt_append_encoded(std::string& out, const SttValue& value);

// One level, by shape. Keys and values are unescaped once; values stay strings.
SttValue::Map stt_decode_map(std::string_view text);
SttValue::List stt_decode_list(std::string_view text);
// A list whose items are maps (the ranking lists: noble_num_info, frank, ...): two levels.
std::vector<SttValue::Map> stt_decode_map_list(std::string_view text);

// Whole tree, by guess (see top of file). Beyond max_depth levels a text stays a string.
inline constexpr int kDefaultMaxDepth = 32;
SttValue stt_decode_value(std::string_view text, int max_depth = kDefaultMaxDepth);

// A readable one-line rendering for logs and test failures: "abc", [..], {k: ..}.
std::string to_debug_string(const SttValue& value);

}  // namespace asyncore::douyu

#include "douyu/message.h"

#include <charconv>
#include <cstring>

#include "douyu/stt.h"

namespace asyncore::douyu {

void Message::decode() {
  slots_.clear();
  stt_scan_fields(body_, slots_);
  unescape_fields();
}

void Message::unescape_fields() {
  type_index_ = -1;
  char* data = body_.data();
  for (size_t i = 0; i < slots_.size(); ++i) {
    RawField& f = slots_[i];
    // Unescaping never lengthens, so each key/value is rewritten inside its own bytes.
    if (f.key_escaped()) {
      f.key_size = static_cast<uint32_t>(stt_unescape_in_place(data + f.key_begin, f.key_size));
    }
    if (f.value_escaped()) {
      f.value_size =
          static_cast<uint32_t>(stt_unescape_in_place(data + f.value_begin, f.value_size));
    }
    if (type_index_ < 0 && f.key_size == 4 && std::memcmp(data + f.key_begin, "type", 4) == 0) {
      type_index_ = static_cast<int>(i);
    }
  }
}

std::optional<std::string_view> Message::peek_type(std::string_view body) {
  constexpr std::string_view kPrefix = "type@=";
  if (body.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  std::string_view value = body.substr(kPrefix.size());
  value = value.substr(0, value.find('/'));  // no '/': the field runs to the end
  // '@' in the value: escaped text to unescape, or a second "@=" the scanner keeps as value.
  if (stt_needs_unescape(value)) return std::nullopt;
  return value;
}

std::optional<std::string_view> Message::get(std::string_view k) const {
  for (size_t i = 0; i < slots_.size(); ++i) {
    if (key(i) == k) {
      return value(i);
    }
  }
  return std::nullopt;
}

std::optional<int64_t> Message::get_int(std::string_view k) const {
  const auto v = get(k);
  if (!v || v->empty()) {
    return std::nullopt;
  }
  int64_t out = 0;
  const auto res = std::from_chars(v->data(), v->data() + v->size(), out);
  if (res.ec != std::errc() || res.ptr != v->data() + v->size()) {
    return std::nullopt;
  }
  return out;
}

std::vector<std::string_view> Message::get_all(std::string_view k) const {
  std::vector<std::string_view> out;
  for (size_t i = 0; i < slots_.size(); ++i) {
    if (key(i) == k) {
      out.push_back(value(i));
    }
  }
  return out;
}

std::string Message::encode() const {
  SttWriter w(body_.size() + 16);
  for (size_t i = 0; i < slots_.size(); ++i) {
    w.add(key(i), value(i));
  }
  return std::move(w).str();
}

}  // namespace asyncore::douyu

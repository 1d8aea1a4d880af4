#include "douyu/message.h"

#include <charconv>

#include "douyu/stt.h"

namespace asyncore::douyu {

namespace {
// The raw-field scratch of the decoding thread: reused, so decoding allocates nothing once warm.
thread_local std::vector<RawField> t_raw;
}  // namespace

void Message::assign(std::string body) {
  body_ = std::move(body);
  slots_.clear();
  type_index_ = -1;
  std::vector<RawField>& raw = t_raw;
  raw.clear();
  stt_scan_fields(body_, raw);
  slots_.reserve(raw.size());
  char* data = body_.data();
  for (const RawField& f : raw) {
    Slot s{f.key_begin, f.key_size, f.value_begin, f.value_size};
    // Unescaping never lengthens, so each key/value is rewritten inside its own bytes.
    if (f.key_escaped()) {
      s.key_size = static_cast<uint32_t>(stt_unescape_in_place(data + s.key_begin, s.key_size));
    }
    if (f.value_escaped()) {
      s.value_size =
          static_cast<uint32_t>(stt_unescape_in_place(data + s.value_begin, s.value_size));
    }
    if (type_index_ < 0 && std::string_view(data + s.key_begin, s.key_size) == "type") {
      type_index_ = static_cast<int>(slots_.size());
    }
    slots_.push_back(s);
  }
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

#include "douyu/protocol/message.h"

#include <charconv>
#include <cstring>

#include "douyu/protocol/stt.h"

namespace asyncore::douyu {

void Message::decode() {
  slots_.clear();
  stt_scan_fields(body_, slots_);
  own();
  type_index_ = unescape_fields(body_.data(), slots_.data(), slots_.size());
}

int Message::unescape_fields(char* data, RawField* fields, size_t count) {
  int type_index = -1;
  for (size_t i = 0; i < count; ++i) {
    RawField& f = fields[i];
    // Unescaping never lengthens, so each key/value is rewritten inside its own bytes. The flags
    // are cleared: unescaping twice (a borrowed body decoded again) would be wrong.
    if (f.key_escaped()) {
      f.key_size = static_cast<uint32_t>(stt_unescape_in_place(data + f.key_begin, f.key_size));
    }
    if (f.value_escaped()) {
      f.value_size =
          static_cast<uint32_t>(stt_unescape_in_place(data + f.value_begin, f.value_size));
    }
    f.flags &= static_cast<uint8_t>(~(RawField::kKeyEscaped | RawField::kValueEscaped));
    if (type_index < 0 && f.key_size == 4 && std::memcmp(data + f.key_begin, "type", 4) == 0) {
      type_index = static_cast<int>(i);
    }
  }
  return type_index;
}

void Message::decode_lent() const {
  scratch_->clear();
  stt_decode_fields_in_place(undecoded_, size_, *scratch_);
  fields_ = scratch_->data();
  count_ = scratch_->size();
  undecoded_ = nullptr;  // before find_type(): its key() would decode again
  type_index_ = find_type();
}

int Message::find_type() const {
  for (size_t i = 0; i < count_; ++i) {
    if (key(i) == "type") return static_cast<int>(i);
  }
  return -1;
}

void Message::copy_from(const Message& other) {
  other.decode_if_lent();
  body_.assign(other.data_ == nullptr ? "" : other.data_, other.size_);
  slots_.assign(other.fields_, other.fields_ + other.count_);
  type_index_ = other.type_index_;
  own();
}

void Message::move_from(Message& other) noexcept {
  const bool borrowed = other.data_ != other.body_.data() && other.data_ != nullptr;
  body_ = std::move(other.body_);
  slots_ = std::move(other.slots_);
  type_index_ = other.type_index_;
  if (borrowed) {
    data_ = other.data_;
    size_ = other.size_;
    fields_ = other.fields_;
    count_ = other.count_;
    undecoded_ = other.undecoded_;  // lent undecoded: it still decodes on its first read
    scratch_ = other.scratch_;
    peeked_type_ = other.peeked_type_;
  } else {
    own();  // a moved string may have a new address (its small-string buffer)
  }
  other.body_.clear();
  other.slots_.clear();
  other.type_index_ = -1;
  other.own();
}

std::optional<std::string_view> Message::peek_type(std::string_view body) {
  constexpr std::string_view kPrefix = "type@=";
  if (body.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  // One byte loop to the '/' (no '/': the field runs to the end): types are a few bytes long,
  // where a find('/') and a find('@') cost two calls per frame on the loop thread.
  for (size_t i = kPrefix.size(); i < body.size(); ++i) {
    if (body[i] == '/') return body.substr(kPrefix.size(), i - kPrefix.size());
    // '@' in the value: escaped text to unescape, or a second "@=" the scanner keeps as value.
    if (body[i] == '@') return std::nullopt;
  }
  return body.substr(kPrefix.size());
}

std::optional<std::string_view> Message::get(std::string_view k) const {
  for (const Field f : fields()) {
    if (f.key == k) {
      return f.value;
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
  for (const Field f : fields()) {
    if (f.key == k) {
      out.push_back(f.value);
    }
  }
  return out;
}

std::string Message::encode() const {
  SttWriter w(size_ + 16);
  for (const Field f : fields()) {
    w.add(f.key, f.value);
  }
  return std::move(w).str();
}

}  // namespace asyncore::douyu

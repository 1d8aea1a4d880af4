#include "douyu/json.h"

namespace asyncore::douyu {

namespace {

constexpr char kHex[] = "0123456789abcdef";

// Length of the well-formed UTF-8 sequence at s[i..], or 0 if ill-formed; on 0, `*skip` is the
// length of the maximal ill-formed subpart to replace with one U+FFFD (at least 1).
size_t utf8_sequence(const unsigned char* s, size_t n, size_t i, size_t* skip) {
  const unsigned char c = s[i];
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) {
      lo = 0xA0;  // no overlongs
    }
    if (c == 0xED) {
      hi = 0x9F;  // no surrogates
    }
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) {
      lo = 0x90;  // no overlongs
    }
    if (c == 0xF4) {
      hi = 0x8F;  // <= U+10FFFF
    }
  } else {
    *skip = 1;
    return 0;
  }
  for (size_t k = 1; k < len; ++k) {
    const size_t j = i + k;
    const unsigned char b = j < n ? s[j] : 0;
    const bool ok = j < n && (k == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF));
    if (!ok) {
      *skip = k;
      return 0;
    }
  }
  return len;
}

}  // namespace

void json_append_string(std::string& out, std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  out.reserve(out.size() + n + 2);
  out.push_back('"');
  size_t run = 0;  // start of the pending run of bytes copied verbatim
  size_t i = 0;
  auto flush = [&](size_t end) { out.append(text.data() + run, end - run); };
  while (i < n) {
    const unsigned char c = s[i];
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    if (c >= 0x80) {
      size_t skip = 1;
      const size_t len = utf8_sequence(s, n, i, &skip);
      if (len != 0) {
        i += len;
        continue;
      }
      flush(i);
      out.append("\xEF\xBF\xBD");  // U+FFFD
      i += skip;
      run = i;
      continue;
    }
    flush(i);
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      case '\b':
        out.append("\\b");
        break;
      case '\f':
        out.append("\\f");
        break;
      default:
        out.append("\\u00");
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xF]);
    }
    ++i;
    run = i;
  }
  flush(n);
  out.push_back('"');
}

std::string json_quote(std::string_view text) {
  std::string out;
  json_append_string(out, text);
  return out;
}

void json_append_message(std::string& out, const Message& message) {
  out.push_back('{');
  bool first = true;
  for (const auto [key, value] : message.fields()) {
    if (!first) {
      out.push_back(',');
    }
    first = false;
    json_append_string(out, key);
    out.push_back(':');
    json_append_string(out, value);
  }
  out.push_back('}');
}

std::string to_json(const Message& message) {
  std::string out;
  json_append_message(out, message);
  return out;
}

namespace {
void append_value(std::string& out, const SttValue& v) {
  if (v.is_string()) {
    json_append_string(out, v.as_string());
  } else if (v.is_list()) {
    out.push_back('[');
    bool first = true;
    for (const SttValue& item : v.as_list()) {
      if (!first) {
        out.push_back(',');
      }
      first = false;
      append_value(out, item);
    }
    out.push_back(']');
  } else {
    out.push_back('{');
    bool first = true;
    for (const auto& [key, item] : v.as_map()) {
      if (!first) {
        out.push_back(',');
      }
      first = false;
      json_append_string(out, key);
      out.push_back(':');
      append_value(out, item);
    }
    out.push_back('}');
  }
}
}  // namespace

std::string to_json(const SttValue& value) {
  std::string out;
  append_value(out, value);
  return out;
}

}  // namespace asyncore::douyu

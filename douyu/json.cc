#include "douyu/json.h"

#include <array>
#include <unordered_set>
#include <utility>
#include <vector>

namespace asyncore::douyu {

namespace {

constexpr char kHex[] = "0123456789abcdef";

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

void append_u_escape(std::string& out, uint32_t cp) {
  out.append("\\u");
  for (int shift = 12; shift >= 0; shift -= 4) out.push_back(kHex[(cp >> shift) & 0xF]);
}

}  // namespace

size_t utf8_sequence_length(std::string_view text, size_t i, size_t* skip) {
  if (static_cast<unsigned char>(text[i]) < 0x80) return 1;
  return utf8_sequence(reinterpret_cast<const unsigned char*>(text.data()), text.size(), i, skip);
}

std::optional<uint32_t> terminal_control_at(std::string_view text, size_t i, size_t len) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data() + i);
  if (len == 1) {
    if (s[0] < 0x20 || s[0] == 0x7F) return s[0];
    return std::nullopt;
  }
  if (len == 2 && s[0] == 0xC2 && s[1] <= 0x9F) return s[1];  // U+0080..U+009F (C1)
  if (len == 3 && s[0] == 0xE2) {
    const uint32_t cp = 0x2000u | ((s[1] & 0x3Fu) << 6) | (s[2] & 0x3Fu);
    if ((cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069)) return cp;  // bidi
  }
  return std::nullopt;
}

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
    if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    if (c >= 0x80) {
      size_t skip = 1;
      const size_t len = utf8_sequence(s, n, i, &skip);
      if (len != 0) {
        // C1 controls and bidi overrides are escaped: a JSON line is safe to show on a terminal.
        if ((c == 0xC2 || c == 0xE2) && terminal_control_at(text, i, len)) {
          flush(i);
          append_u_escape(out, *terminal_control_at(text, i, len));
          i += len;
          run = i;
          continue;
        }
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
      default:  // other C0 controls and DEL
        append_u_escape(out, c);
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
  // A repeated key keeps its first value (as Message::get): one member per name, so every JSON
  // reader sees what --types and the typed views see. Names are compared as encoded (two
  // ill-formed keys may encode alike). Up to 32 fields: a linear scan over names already in `out`
  // (no allocation); more: a hash set.
  constexpr size_t kLinearScanUpTo = 32;
  std::array<std::pair<size_t, size_t>, kLinearScanUpTo> names;  // (offset, size) in `out`
  size_t name_count = 0;
  std::unordered_set<std::string> many;
  const bool linear = message.size() <= kLinearScanUpTo;
  out.push_back('{');
  bool first = true;
  for (const auto [key, value] : message.fields()) {
    const size_t mark = out.size();
    if (!first) out.push_back(',');
    const size_t name_at = out.size();
    json_append_string(out, key);
    const std::string_view name(out.data() + name_at, out.size() - name_at);
    bool seen = false;
    if (linear) {
      for (size_t k = 0; k < name_count && !seen; ++k) {
        seen = std::string_view(out.data() + names[k].first, names[k].second) == name;
      }
      if (!seen) names[name_count++] = {name_at, name.size()};
    } else {
      seen = !many.emplace(name).second;
    }
    if (seen) {
      out.resize(mark);
      continue;
    }
    first = false;
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

// The byte-by-byte JSON encoder douyu/protocol/json.cc had before its fast path (issue #13): kept
// as the reference the fast encoder must match byte for byte (tests/douyu/json_test.cc) and as the
// "before" of bench/protocol_bench.cc. Uses only the careful per-sequence helpers of json.h.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>

#include "douyu/protocol/json.h"
#include "douyu/protocol/message.h"

namespace asyncore::douyu::reference {

inline void append_u_escape(std::string& out, uint32_t cp) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.append("\\u");
  for (int shift = 12; shift >= 0; shift -= 4) out.push_back(kHex[(cp >> shift) & 0xF]);
}

inline void json_append_string(std::string& out, std::string_view text) {
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
      const size_t len = utf8_sequence_length(text, i, &skip);
      if (len != 0) {
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

inline void json_append_message(std::string& out, const Message& message) {
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

}  // namespace asyncore::douyu::reference

// The STT rules of douyu/protocol/stt.h, one byte at a time: the references the SIMD scanner and
// the in-place decoder are checked against (stt_test.cc, read_path_header_attack_test.cc,
// read_path_attack_test.cc). Written from the header, not from stt.cc.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "douyu/protocol/stt.h"

namespace asyncore::douyu::testing {

// One left-to-right pass: "@A" -> '@', "@S" -> '/', any other '@' kept as it is.
inline std::string reference_unescape(std::string_view t) {
  std::string out;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] == '@' && i + 1 < t.size() && (t[i + 1] == 'A' || t[i + 1] == 'S')) {
      out += t[i + 1] == 'A' ? '@' : '/';
      ++i;
    } else {
      out += t[i];
    }
  }
  return out;
}

// stt_scan_fields: items end at '/'; an item is split at its first "@="; an item without it is
// bare (key empty, value = the item); empty items are skipped; a final item without its '/' is
// kept. kKeyEscaped / kValueEscaped: the key / value contains a '@'.
inline std::vector<RawField> reference_scan_fields(std::string_view t) {
  std::vector<RawField> out;
  size_t start = 0;
  while (start < t.size()) {
    size_t end = t.find('/', start);
    if (end == std::string_view::npos) end = t.size();
    if (end > start) {
      const std::string_view item = t.substr(start, end - start);
      const size_t sep = item.find("@=");
      RawField f;
      if (sep == std::string_view::npos) {
        f.key_begin = f.value_begin = static_cast<uint32_t>(start);
        f.value_size = static_cast<uint32_t>(item.size());
        f.flags = item.find('@') != std::string_view::npos ? RawField::kValueEscaped : 0;
      } else {
        f.key_begin = static_cast<uint32_t>(start);
        f.key_size = static_cast<uint32_t>(sep);
        f.value_begin = static_cast<uint32_t>(start + sep + 2);
        f.value_size = static_cast<uint32_t>(item.size() - sep - 2);
        f.flags = RawField::kHasSeparator;
        if (item.substr(0, sep).find('@') != std::string_view::npos) {
          f.flags |= RawField::kKeyEscaped;
        }
        if (item.substr(sep + 2).find('@') != std::string_view::npos) {
          f.flags |= RawField::kValueEscaped;
        }
      }
      out.push_back(f);
    }
    start = end + 1;
  }
  return out;
}

}  // namespace asyncore::douyu::testing

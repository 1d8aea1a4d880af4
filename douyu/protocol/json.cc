#include "douyu/protocol/json.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <unordered_set>
#include <utility>

#if defined(__SSE2__) && !defined(ASYNCORE_JSON_SWAR)  // SWAR: the portable path, testable
#define ASYNCORE_JSON_SSE2 1
#include <emmintrin.h>
#endif

namespace asyncore::douyu {

namespace {

constexpr char kHex[] = "0123456789abcdef";

// The careful path: any byte >= 0x80, well-formed or not.
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

// ---- the fast encoder ----
//
// Output is written through a raw pointer into `out`, which is resized ahead (to the exact size
// of clean text plus kSlack) and grown only when escapes make the text longer. Invariant: every
// step first makes sure kSlack bytes are writable (room()), then writes at most kSlack.
//
// Input is never read beyond its end: short pieces are checked and copied with two overlapping
// loads (as memcpy does for small sizes), long ones 16 bytes at a time (SSE2; 8 with SWAR).

constexpr size_t kSlack = 32;
constexpr size_t kAhead = 64 * 1024;

// Bytes copied as they are: printable ASCII except '"' and '\\'.
constexpr std::array<bool, 256> kPlain = [] {
  std::array<bool, 256> t{};
  for (int c = 0x20; c < 0x7F; ++c) t[c] = c != '"' && c != '\\';
  return t;
}();

class Buffer {
 public:
  // Makes room for `expect` more bytes (plus the slack) after out's current end.
  Buffer(std::string& out, size_t expect) : out_(out), start_(out.size()) {
    // At most kAhead up front: a hostile message of 524,288 empty-named fields is 1 MiB of text
    // and one short JSON member; sizing for all of it made each line cost a megabyte, and the
    // churn of such buffers kept ~100 MiB of freed memory in the allocator.
    out_.resize(start_ + std::min(expect, kAhead) + kSlack);
    end_ = out_.data() + out_.size();
  }
  char* begin() { return out_.data() + start_; }
  char* data() { return out_.data(); }
  // `p` with at least `need` (<= kSlack) writable bytes after it.
  char* room(char* p, size_t need = kSlack) {
    if (static_cast<size_t>(end_ - p) >= need) [[likely]]
      return p;
    return grow(p, need);
  }
  void finish(char* p) { out_.resize(static_cast<size_t>(p - out_.data())); }
  char* end() const { return end_; }
  // Hot loops keep `end` (and the data pointer) in locals: stores through a char* may alias the
  // members, which would otherwise be reloaded after every byte written.
  [[gnu::noinline]] char* grow(char* p, size_t need) {
    const size_t used = static_cast<size_t>(p - out_.data());
    out_.resize(std::max(used + need, out_.size() + std::max<size_t>(256, (used - start_) / 2)));
    end_ = out_.data() + out_.size();
    return out_.data() + used;
  }

 private:
  std::string& out_;
  const size_t start_;
  char* end_;
};

inline char* put_u_escape(char* p, uint32_t cp) {
  p[0] = '\\';
  p[1] = 'u';
  p[2] = kHex[(cp >> 12) & 0xF];
  p[3] = kHex[(cp >> 8) & 0xF];
  p[4] = kHex[(cp >> 4) & 0xF];
  p[5] = kHex[cp & 0xF];
  return p + 6;
}

inline char* put2(char* p, char a, char b) {
  p[0] = a;
  p[1] = b;
  return p + 2;
}

inline uint64_t load64(const unsigned char* s) {
  uint64_t x;
  std::memcpy(&x, s, 8);
  return x;
}
inline uint32_t load32(const unsigned char* s) {
  uint32_t x;
  std::memcpy(&x, s, 4);
  return x;
}

// SWAR: bit 7 of each byte of the result is set where that byte of `x` needs attention (< 0x20,
// '"', '\\', 0x7F, >= 0x80); exact for the lowest such byte, the only one callers look at.
[[gnu::always_inline]] inline uint64_t attention8(uint64_t x) {
  constexpr uint64_t k01 = 0x0101010101010101ull, k80 = 0x8080808080808080ull;
  auto zero = [](uint64_t v) { return (v - k01) & ~v & k80; };
  const uint64_t low = (x - 0x20 * k01) & ~x & k80;  // < 0x20 (bytes >= 0x80 are caught below)
  return low | (x & k80) | zero(x ^ ('"' * k01)) | zero(x ^ ('\\' * k01)) | zero(x ^ (0x7F * k01));
}

// s[0, n), n < 16: true when every byte is plain; then copied to p (overlapping loads/stores).
[[gnu::always_inline]] inline bool copy_short_if_plain(char* p, const unsigned char* s, size_t n) {
  if (n >= 8) {
    const uint64_t a = load64(s), z = load64(s + n - 8);
    if ((attention8(a) | attention8(z)) != 0) return false;
    std::memcpy(p, &a, 8);
    std::memcpy(p + n - 8, &z, 8);
  } else if (n >= 4) {
    const uint32_t a = load32(s), z = load32(s + n - 4);
    if (attention8(a | (uint64_t{z} << 32)) != 0) return false;
    std::memcpy(p, &a, 4);
    std::memcpy(p + n - 4, &z, 4);
  } else if (n > 0) {
    const unsigned char a = s[0], m = s[n / 2], z = s[n - 1];
    if (!(kPlain[a] & kPlain[m] & kPlain[z])) return false;
    p[0] = static_cast<char>(a);
    p[n / 2] = static_cast<char>(m);
    p[n - 1] = static_cast<char>(z);
  }
  return true;
}

// The general loop, from the start of the string's content (`p` after the opening quote).
[[gnu::noinline]] char* write_content(Buffer& b, char* p, const unsigned char* s, size_t n) {
  char* end = b.end();
  auto room = [&] {
    if (static_cast<size_t>(end - p) < kSlack) [[unlikely]] {
      p = b.grow(p, kSlack);
      end = b.end();
    }
  };
  size_t i = 0;
  while (i < n) {
    room();
    // Clean runs: copied a block at a time (the whole block is stored, p advances by its clean
    // prefix: the slack makes the over-store harmless).
#if defined(ASYNCORE_JSON_SSE2)
    if (n - i >= 16) {
      const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i));
      const __m128i bad =
          _mm_or_si128(_mm_or_si128(_mm_cmplt_epi8(x, _mm_set1_epi8(0x20)),  // and >= 0x80
                                    _mm_cmpeq_epi8(x, _mm_set1_epi8('"'))),
                       _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('\\')),
                                    _mm_cmpeq_epi8(x, _mm_set1_epi8(0x7F))));
      const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(bad));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(p), x);
      if (mask == 0) {
        p += 16;
        i += 16;
        continue;
      }
      const unsigned k = static_cast<unsigned>(__builtin_ctz(mask));
      p += k;
      i += k;
    } else
#else
    if (n - i >= 16) {
      const uint64_t x = load64(s + i);
      const uint64_t mask = attention8(x);
      std::memcpy(p, &x, 8);
      if (mask == 0) {
        p += 8;
        i += 8;
        continue;
      }
      const unsigned k = static_cast<unsigned>(__builtin_ctzll(mask)) / 8;
      p += k;
      i += k;
    } else
#endif
    {
      // Fewer than 16 bytes left: all plain (the usual end), or one by one up to the next byte
      // that is not.
      if (copy_short_if_plain(p, s + i, n - i)) {
        p += n - i;
        break;
      }
      while (kPlain[s[i]]) *p++ = static_cast<char>(s[i++]);
    }
    // s[i] needs attention (the block store above may have used up most of the room).
    room();
    const unsigned char c = s[i];
    if (c < 0x80) {
      switch (c) {
        case '"':
          p = put2(p, '\\', '"');
          break;
        case '\\':
          p = put2(p, '\\', '\\');
          break;
        case '\n':
          p = put2(p, '\\', 'n');
          break;
        case '\r':
          p = put2(p, '\\', 'r');
          break;
        case '\t':
          p = put2(p, '\\', 't');
          break;
        case '\b':
          p = put2(p, '\\', 'b');
          break;
        case '\f':
          p = put2(p, '\\', 'f');
          break;
        default:  // other C0 controls and DEL
          p = put_u_escape(p, c);
      }
      ++i;
      continue;
    }
    // UTF-8, sequence after sequence while the bytes stay >= 0x80 (CJK text). Well-formed
    // sequences are checked inline; C1 controls (C2 80..C2 9F) and bidi overrides/isolates
    // (E2 80 AA..AE, E2 81 A6..A9) become \uXXXX; anything else goes the careful way.
    for (;;) {
      const unsigned char c0 = s[i];
      const size_t left = n - i;
      if (c0 >= 0xE0 && c0 <= 0xEF) {
        if (left >= 3) {
          const unsigned char b1 = s[i + 1], b2 = s[i + 2];
          const unsigned char lo = c0 == 0xE0 ? 0xA0 : 0x80, hi = c0 == 0xED ? 0x9F : 0xBF;
          if (b1 >= lo && b1 <= hi && (b2 & 0xC0) == 0x80) {
            if (c0 == 0xE2 && ((b1 == 0x80 && b2 >= 0xAA && b2 <= 0xAE) ||
                               (b1 == 0x81 && b2 >= 0xA6 && b2 <= 0xA9))) {
              p = put_u_escape(p, 0x2000u | ((b1 & 0x3Fu) << 6) | (b2 & 0x3Fu));
            } else {
              p[0] = static_cast<char>(c0);
              p[1] = static_cast<char>(b1);
              p[2] = static_cast<char>(b2);
              p += 3;
            }
            i += 3;
            goto next;
          }
        }
      } else if (c0 >= 0xC2 && c0 <= 0xDF) {
        if (left >= 2 && (s[i + 1] & 0xC0) == 0x80) {
          const unsigned char b1 = s[i + 1];
          if (c0 == 0xC2 && b1 <= 0x9F) {
            p = put_u_escape(p, b1);
          } else {
            p = put2(p, static_cast<char>(c0), static_cast<char>(b1));
          }
          i += 2;
          goto next;
        }
      } else if (c0 >= 0xF0 && c0 <= 0xF4) {
        if (left >= 4) {
          const unsigned char b1 = s[i + 1], b2 = s[i + 2], b3 = s[i + 3];
          const unsigned char lo = c0 == 0xF0 ? 0x90 : 0x80, hi = c0 == 0xF4 ? 0x8F : 0xBF;
          if (b1 >= lo && b1 <= hi && (b2 & 0xC0) == 0x80 && (b3 & 0xC0) == 0x80) {
            std::memcpy(p, s + i, 4);
            p += 4;
            i += 4;
            goto next;
          }
        }
      }
      {
        // Ill-formed (or truncated): one U+FFFD per maximal ill-formed subpart.
        size_t skip = 1;
        const size_t len = utf8_sequence(s, n, i, &skip);
        if (len != 0) {  // not reached: the checks above accept every well-formed sequence
          std::memcpy(p, s + i, len);
          p += len;
          i += len;
        } else {
          std::memcpy(p, "\xEF\xBF\xBD", 3);
          p += 3;
          i += skip;
        }
      }
    next:
      if (i >= n || s[i] < 0x80) break;
      room();
    }
  }
  return p;
}

// Writes `text` as a JSON string literal at `p`; returns the new end. A short clean string (the
// usual key or number) is done inline.
[[gnu::always_inline]] inline char* write_string(Buffer& b, char* p, const unsigned char* s,
                                                 size_t n) {
  p = b.room(p);
  *p++ = '"';
  if (n < 16 && copy_short_if_plain(p, s, n)) {  // n + 2 <= kSlack
    p += n;
  } else {
    p = write_content(b, p, s, n);
    p = b.room(p, 1);
  }
  *p++ = '"';
  return p;
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
  Buffer b(out, text.size() + 2);
  char* p =
      write_string(b, b.begin(), reinterpret_cast<const unsigned char*>(text.data()), text.size());
  b.finish(p);
}

std::string json_quote(std::string_view text) {
  std::string out;
  json_append_string(out, text);
  return out;
}

namespace {

// A repeated name is found without comparing every pair: each encoded name gets a 64-bit tag of
// its content (between the quotes: size, and every byte up to 16 bytes, else the first and last
// 8); a 256-bit filter on the tag says "not seen" for almost every name, and names are compared
// in full only when both the filter and the tags agree. The tag of a name written unchanged is
// taken from the key itself (reading back bytes just stored would stall on store forwarding).
inline uint64_t content_tag(const unsigned char* c, size_t size) {
  uint64_t head = 0, tail = 0;
  if (size >= 8) {
    head = load64(c);
    tail = load64(c + size - 8);
  } else if (size >= 4) {
    head = load32(c) | (uint64_t{load32(c + size - 4)} << 32);
  } else if (size > 0) {
    head = c[0] | (uint64_t{c[size / 2]} << 8) | (uint64_t{c[size - 1]} << 16);
  }
  return (head ^ (tail * 0x9E3779B97F4A7C15ull) ^ size) * 0xBF58476D1CE4E5B9ull;
}

struct Name {
  size_t at;  // offset in `out`
  size_t size;
  uint64_t tag;
};

}  // namespace

void json_append_message(std::string& out, const Message& message) {
  // A repeated key keeps its first value (as Message::get): one member per name, so every JSON
  // reader sees what --types and the typed views see. Names are compared as encoded (two
  // ill-formed keys may encode alike). Up to 64 fields: the tag filter above (no allocation);
  // more: a hash set.
  constexpr size_t kFilterUpTo = 64;
  const auto fields = message.fields();  // read once: every store through `p` would reload it
  const size_t count = fields.size();
  // Each field is key@=value/ in the text and ,"key":"value" here: 3 bytes more (escapes and
  // bare items, value/ becoming ,"":"value", grow the buffer as they come). Not a walk over the
  // fields: that first touch of every field cost as much as the encoding of the short ones.
  Buffer b(out, message.text_size() + 3 * count + 2);
  char* p = b.begin();
  char* base = b.data();
  char* end = b.end();
  auto room = [&](size_t need) {
    if (static_cast<size_t>(end - p) < need) [[unlikely]] {
      p = b.grow(p, need);
      base = b.data();
      end = b.end();
    }
  };
  auto content = [&](const unsigned char* s, size_t n) {  // after write_content, which may grow
    p = write_content(b, p, s, n);
    base = b.data();
    end = b.end();
    room(1);
  };
  *p++ = '{';
  Name names[kFilterUpTo];  // the first name_count are set
  size_t name_count = 0;
  uint64_t filter[4] = {0, 0, 0, 0};
  std::optional<std::unordered_set<std::string>> many;  // more than kFilterUpTo fields only
  const bool small = count <= kFilterUpTo;
  bool first = true;
  for (size_t k = 0; k < count; ++k) {
    const auto [key, value] = fields[k];
    room(kSlack);
    const size_t mark = static_cast<size_t>(p - base);
    if (!first) *p++ = ',';
    const size_t name_at = static_cast<size_t>(p - base);
    const auto* k_bytes = reinterpret_cast<const unsigned char*>(key.data());
    *p++ = '"';
    const bool plain = key.size() < 16 && copy_short_if_plain(p, k_bytes, key.size());
    if (plain) {
      p += key.size();
    } else {
      content(k_bytes, key.size());
    }
    *p++ = '"';
    const char* name = base + name_at;
    const size_t name_size = static_cast<size_t>(p - name);
    bool seen = false;
    if (small) {
      const uint64_t tag =
          plain ? content_tag(k_bytes, key.size())
                : content_tag(reinterpret_cast<const unsigned char*>(name) + 1, name_size - 2);
      const unsigned bit = static_cast<unsigned>(tag >> 56);
      uint64_t& word = filter[bit >> 6];
      const uint64_t m = uint64_t{1} << (bit & 63);
      if ((word & m) != 0) {
        for (size_t j = 0; j < name_count && !seen; ++j) {
          seen = names[j].tag == tag && names[j].size == name_size &&
                 std::memcmp(base + names[j].at, name, name_size) == 0;
        }
      }
      if (!seen) {
        word |= m;
        names[name_count++] = {name_at, name_size, tag};
      }
    } else {
      if (!many) many.emplace();
      seen = !many->emplace(name, name_size).second;
    }
    if (seen) {
      p = base + mark;
      continue;
    }
    first = false;
    room(kSlack);
    *p++ = ':';
    *p++ = '"';
    const auto* v_bytes = reinterpret_cast<const unsigned char*>(value.data());
    if (value.size() < 16 && copy_short_if_plain(p, v_bytes, value.size())) {  // 2 + 15 + 1
      p += value.size();
    } else {
      content(v_bytes, value.size());
    }
    *p++ = '"';
  }
  room(1);
  *p++ = '}';
  b.finish(p);
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

// A small strict JSON validator (RFC 8259) for the tests and fuzzers of json.h: checks syntax and
// that the text is well-formed UTF-8, and can decode a flat object of strings back, so tests can
// compare what went in with what came out. Test support only — not part of the library.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace asyncore::douyu::testing {

class JsonValidator {
 public:
  // Keeps its own copy of the text, so a temporary may be passed.
  explicit JsonValidator(std::string text) : owned_(std::move(text)), s_(owned_) {}
  JsonValidator(const JsonValidator&) = delete;
  JsonValidator& operator=(const JsonValidator&) = delete;

  // True when the whole text is one valid JSON value (whitespace around allowed).
  bool validate() {
    ws();
    if (!value(0)) return false;
    ws();
    return i_ == s_.size() || fail("trailing data");
  }
  const std::string& error() const { return error_; }
  size_t position() const { return i_; }

  // Parses a flat object {"k":"v",...} into its members, in order; nullopt if not exactly that.
  static std::optional<std::vector<std::pair<std::string, std::string>>> flat_object(
      std::string_view text) {
    JsonValidator v{std::string(text)};
    std::vector<std::pair<std::string, std::string>> out;
    v.ws();
    if (!v.eat('{')) return std::nullopt;
    v.ws();
    if (v.eat('}')) return v.at_end() ? std::optional(out) : std::nullopt;
    for (;;) {
      std::string k, val;
      v.ws();
      if (!v.string(&k)) return std::nullopt;
      v.ws();
      if (!v.eat(':')) return std::nullopt;
      v.ws();
      if (!v.string(&val)) return std::nullopt;
      out.emplace_back(std::move(k), std::move(val));
      v.ws();
      if (v.eat(',')) continue;
      if (v.eat('}')) break;
      return std::nullopt;
    }
    return v.at_end() ? std::optional(out) : std::nullopt;
  }

  // True when `text` is well-formed UTF-8.
  static bool valid_utf8(std::string_view text) {
    JsonValidator v{std::string(text)};
    while (v.i_ < v.s_.size()) {
      if (static_cast<unsigned char>(v.s_[v.i_]) < 0x80) {
        ++v.i_;
      } else if (!v.utf8(nullptr)) {
        return false;
      }
    }
    return true;
  }

  // Decodes one JSON string literal (the whole text); nullopt if invalid.
  static std::optional<std::string> string_literal(std::string_view text) {
    JsonValidator v{std::string(text)};
    std::string out;
    if (!v.string(&out) || !v.at_end()) return std::nullopt;
    return out;
  }

 private:
  bool at_end() {
    ws();
    return i_ == s_.size();
  }
  bool fail(const char* why) {
    if (error_.empty()) error_ = std::string(why) + " at " + std::to_string(i_);
    return false;
  }
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
      ++i_;
  }
  bool eat(char c) {
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  bool literal(std::string_view word) {
    if (s_.substr(i_, word.size()) != word) return fail("bad literal");
    i_ += word.size();
    return true;
  }
  bool value(int depth) {
    if (depth > 512) return fail("too deep");
    if (i_ >= s_.size()) return fail("unexpected end");
    switch (s_[i_]) {
      case '{':
        return object(depth);
      case '[':
        return array(depth);
      case '"':
        return string(nullptr);
      case 't':
        return literal("true");
      case 'f':
        return literal("false");
      case 'n':
        return literal("null");
      default:
        return number();
    }
  }
  bool object(int depth) {
    ++i_;
    ws();
    if (eat('}')) return true;
    for (;;) {
      ws();
      if (!string(nullptr)) return fail("object key");
      ws();
      if (!eat(':')) return fail("expected ':'");
      ws();
      if (!value(depth + 1)) return false;
      ws();
      if (eat(',')) continue;
      if (eat('}')) return true;
      return fail("expected ',' or '}'");
    }
  }
  bool array(int depth) {
    ++i_;
    ws();
    if (eat(']')) return true;
    for (;;) {
      ws();
      if (!value(depth + 1)) return false;
      ws();
      if (eat(',')) continue;
      if (eat(']')) return true;
      return fail("expected ',' or ']'");
    }
  }
  bool digits() {
    const size_t start = i_;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
    return i_ > start;
  }
  bool number() {
    eat('-');
    if (eat('0')) {
    } else if (!digits()) {
      return fail("bad number");
    }
    if (eat('.') && !digits()) return fail("bad fraction");
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      if (!eat('+')) eat('-');
      if (!digits()) return fail("bad exponent");
    }
    return true;
  }
  static void put_utf8(std::string* out, uint32_t cp) {
    if (out == nullptr) return;
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }
  bool hex4(uint32_t* v) {
    if (i_ + 4 > s_.size()) return fail("short \\u");
    *v = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = s_[i_++];
      *v <<= 4;
      if (c >= '0' && c <= '9')
        *v |= static_cast<uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f')
        *v |= static_cast<uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        *v |= static_cast<uint32_t>(c - 'A' + 10);
      else
        return fail("bad hex");
    }
    return true;
  }
  // Validates one raw UTF-8 sequence starting at i_ (a byte >= 0x80) and copies it to out.
  bool utf8(std::string* out) {
    const auto c = static_cast<unsigned char>(s_[i_]);
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
      len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else
      return fail("invalid UTF-8 lead byte");
    if (i_ + len > s_.size()) return fail("truncated UTF-8");
    for (size_t k = 1; k < len; ++k) {
      const auto b = static_cast<unsigned char>(s_[i_ + k]);
      if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) return fail("invalid UTF-8");
    }
    if (out != nullptr) out->append(s_.substr(i_, len));
    i_ += len;
    return true;
  }
  bool string(std::string* out) {
    if (!eat('"')) return fail("expected string");
    for (;;) {
      if (i_ >= s_.size()) return fail("unterminated string");
      const auto c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') {
        ++i_;
        return true;
      }
      if (c < 0x20) return fail("control character in string");
      if (c >= 0x80) {
        if (!utf8(out)) return false;
        continue;
      }
      ++i_;
      if (c != '\\') {
        if (out != nullptr) out->push_back(static_cast<char>(c));
        continue;
      }
      if (i_ >= s_.size()) return fail("bad escape");
      const char e = s_[i_++];
      switch (e) {
        case '"':
          put_utf8(out, '"');
          break;
        case '\\':
          put_utf8(out, '\\');
          break;
        case '/':
          put_utf8(out, '/');
          break;
        case 'b':
          put_utf8(out, '\b');
          break;
        case 'f':
          put_utf8(out, '\f');
          break;
        case 'n':
          put_utf8(out, '\n');
          break;
        case 'r':
          put_utf8(out, '\r');
          break;
        case 't':
          put_utf8(out, '\t');
          break;
        case 'u': {
          uint32_t cp = 0;
          if (!hex4(&cp)) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t lo = 0;
            if (!eat('\\') || !eat('u') || !hex4(&lo) || lo < 0xDC00 || lo > 0xDFFF)
              return fail("unpaired surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return fail("unpaired surrogate");
          }
          put_utf8(out, cp);
          break;
        }
        default:
          return fail("bad escape");
      }
    }
  }

  std::string owned_;
  std::string_view s_;
  size_t i_ = 0;
  std::string error_;
};

}  // namespace asyncore::douyu::testing

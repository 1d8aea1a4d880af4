// typed_fields.h — how typed views (typed_messages.h) are filled: one walk over a Message's fields
// through a per-type table of (key → member), instead of one linear Message::get per member.
//
// Each view type T has one constexpr table, TypedFields<T>::kMembers, of {key, member}: a member
// is a string_view (the value, as Message::get_or gives it) or an int64_t (parsed exactly as
// Message::get_int_or(key, 0): the whole value as a decimal integer, else 0). fill<T>() walks the
// fields once; for each key, KeyIndex finds the table entry with a compile-time perfect hash of
// (length, first, second, last byte) — which identifies keys of up to 3 bytes outright — and one
// comparison of the bytes in between for longer keys. A bitmask of the members already
// set keeps the FIRST occurrence of a repeated key (as Message::get does) and stops the walk once
// every member is set. Cost: O(fields) per message, whatever the number of members.
//
// Adding a typed field is one line in its type's table; adding a type is a table + a line in
// view()'s type table (typed_messages.cc).
#pragma once

#include <array>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <system_error>

#include "douyu/protocol/message.h"
#include "douyu/protocol/typed_messages.h"

namespace asyncore::douyu {

// The integer of a typed numeric field: Message::get_int's rule (the whole value parsed by
// std::from_chars as a decimal integer), 0 when empty or not a number.
inline int64_t typed_field_int(std::string_view v) {
  // Fast path, same result: an optional '-' and 1..18 digits cannot overflow.
  if (v.empty()) {
    return 0;
  }
  const size_t sign = v[0] == '-' ? 1 : 0;
  if (v.size() - sign - 1 < 18) {
    uint64_t x = 0;
    for (size_t i = sign; i < v.size(); ++i) {
      const unsigned d = static_cast<unsigned char>(v[i]) - unsigned{'0'};
      if (d > 9) {
        return 0;
      }
      x = x * 10 + d;
    }
    return sign != 0 ? -static_cast<int64_t>(x) : static_cast<int64_t>(x);
  }
  int64_t out = 0;
  const char* end = v.data() + v.size();
  const auto res = std::from_chars(v.data(), end, out);
  return (res.ec != std::errc() || res.ptr != end) ? 0 : out;
}

// A set of up to 64 distinct, non-empty keys of at most 31 bytes, looked up by a perfect hash of
// (length, first, second, last byte) found at compile time: find(key) is the key's index, or -1.
// Used for the member keys of each view type and for the message types of view().
template <size_t N>
class KeyIndex {
 public:
  static_assert(N >= 1 && N <= 64);
  static constexpr int kBits = N <= 4 ? 3 : N <= 8 ? 4 : N <= 16 ? 5 : N <= 32 ? 6 : 7;
  static constexpr size_t kSlots = size_t{1} << kBits;

  // Fails to compile (a throw in a constant expression) on an empty, too long or repeated key,
  // or when no seed separates the keys.
  consteval explicit KeyIndex(const std::array<std::string_view, N>& keys) {
    for (size_t i = 0; i < N; ++i) {
      if (keys[i].empty() || keys[i].size() > 31) throw "KeyIndex: keys are 1..31 bytes";
      for (size_t j = 0; j < i; ++j) {
        if (keys[i] == keys[j]) throw "KeyIndex: repeated key";
      }
      lengths_ |= uint32_t{1} << keys[i].size();
    }
    uint32_t seed = 0x9E3779B1u;
    for (int attempt = 0; attempt < 100000; ++attempt, seed += 0x61C88646u * 2u) {
      std::array<uint8_t, kSlots> slots{};
      bool ok = true;
      for (size_t i = 0; i < N && ok; ++i) {
        const uint32_t h = slot(code(keys[i]), seed | 1u);
        ok = slots[h] == 0;
        slots[h] = static_cast<uint8_t>(i + 1);
      }
      if (ok) {
        seed_ = seed | 1u;
        for (size_t h = 0; h < kSlots; ++h) {
          slot_[h] = slots[h];
          if (slots[h] != 0) {
            const std::string_view k = keys[slots[h] - 1];
            code_[h] = code(k);
            for (size_t c = 0; c < k.size(); ++c) key_[h][c] = k[c];
          }
        }
        return;
      }
    }
    throw "KeyIndex: no perfect hash seed found";
  }

  int find(std::string_view k) const { return static_cast<int>(find_or(k, -1)); }

  // The key's index, or `absent`.
  size_t find_or(std::string_view k, size_t absent) const {
    const size_t n = k.size();
    if (n > 31 || ((lengths_ >> n) & 1u) == 0) {
      return absent;  // no key of that length (also rejects the empty key before k[0] is read)
    }
    const uint32_t c = code(k);
    const uint32_t h = slot(c, seed_);
    // Same length, first, second and last byte: keys of up to 3 bytes are equal; longer ones
    // compare the bytes in between.
    if (code_[h] != c || (n > 3 && std::memcmp(key_[h] + 2, k.data() + 2, n - 3) != 0)) {
      return absent;
    }
    return size_t{slot_[h]} - 1;
  }

 private:
  // Length (5 bits), first, second (the first again for a 1-byte key) and last byte.
  static constexpr uint32_t code(std::string_view k) {
    return (static_cast<uint32_t>(k.size()) << 24) |
           (static_cast<uint32_t>(static_cast<uint8_t>(k.front())) << 16) |
           (static_cast<uint32_t>(static_cast<uint8_t>(k[k.size() > 1 ? 1 : 0])) << 8) |
           static_cast<uint8_t>(k.back());
  }
  static constexpr uint32_t slot(uint32_t code, uint32_t seed) {
    return (code * seed) >> (32 - kBits);
  }

  uint32_t seed_ = 1;
  uint32_t lengths_ = 0;                 // bit n: some key has n bytes
  std::array<uint32_t, kSlots> code_{};  // code() of the slot's key; 0 (no key) for empty slots
  std::array<uint8_t, kSlots> slot_{};   // index + 1 of the slot's key
  char key_[kSlots][32] = {};            // the slot's key bytes
};

// One member of a view type: a text member (string_view T::*) or a numeric one (int64_t T::*).
template <class T>
struct TypedMember {
  std::string_view key;
  std::string_view T::*text = nullptr;
  int64_t T::*number = nullptr;
};
template <class T>
constexpr TypedMember<T> text(std::string_view key, std::string_view T::*m) {
  return {key, m, nullptr};
}
template <class T>
constexpr TypedMember<T> number(std::string_view key, int64_t T::*m) {
  return {key, nullptr, m};
}

// TypedFields<T>::kMembers: the table of T (specialised below, one per view type).
template <class T>
struct TypedFields;

template <>
struct TypedFields<ChatMsg> {
  using T = ChatMsg;
  static constexpr std::array kMembers{
      text<T>("rid", &T::rid),   text<T>("uid", &T::uid),   text<T>("nn", &T::nn),
      text<T>("txt", &T::txt),   text<T>("cid", &T::cid),   text<T>("ic", &T::ic),
      text<T>("bnn", &T::bnn),   text<T>("brid", &T::brid), number<T>("level", &T::level),
      number<T>("col", &T::col), number<T>("ct", &T::ct),   number<T>("nl", &T::nl),
      number<T>("bl", &T::bl),   number<T>("cst", &T::cst), text<T>("el", &T::el)};
};

template <>
struct TypedFields<UserEnter> {
  using T = UserEnter;
  static constexpr std::array kMembers{text<T>("rid", &T::rid),       text<T>("uid", &T::uid),
                                       text<T>("nn", &T::nn),         text<T>("ic", &T::ic),
                                       number<T>("level", &T::level), number<T>("nl", &T::nl)};
};

template <>
struct TypedFields<Gift> {
  using T = Gift;
  static constexpr std::array kMembers{
      text<T>("rid", &T::rid),       text<T>("uid", &T::uid),     text<T>("nn", &T::nn),
      text<T>("ic", &T::ic),         text<T>("bnn", &T::bnn),     number<T>("gfid", &T::gfid),
      number<T>("gfcnt", &T::gfcnt), number<T>("hits", &T::hits), number<T>("level", &T::level),
      number<T>("bl", &T::bl),       number<T>("bcnt", &T::bcnt)};
};

template <>
struct TypedFields<GiftBroadcast> {
  using T = GiftBroadcast;
  static constexpr std::array kMembers{text<T>("sn", &T::sn),      text<T>("dn", &T::dn),
                                       text<T>("gn", &T::gn),      text<T>("drid", &T::drid),
                                       text<T>("es", &T::es),      number<T>("gc", &T::gc),
                                       number<T>("gfid", &T::gfid)};
};

template <>
struct TypedFields<RoomStatus> {
  using T = RoomStatus;
  static constexpr std::array kMembers{text<T>("rid", &T::rid), text<T>("notify", &T::notify),
                                       number<T>("ss", &T::ss), number<T>("code", &T::code),
                                       number<T>("rt", &T::rt), number<T>("endtime", &T::endtime)};
};

template <>
struct TypedFields<BuyDeserve> {
  using T = BuyDeserve;
  static constexpr std::array kMembers{text<T>("rid", &T::rid),   number<T>("level", &T::level),
                                       number<T>("cnt", &T::cnt), number<T>("hits", &T::hits),
                                       number<T>("lev", &T::lev), text<T>("sui", &T::sui)};
};

template <>
struct TypedFields<SuperBarrage> {
  using T = SuperBarrage;
  static constexpr std::array kMembers{text<T>("rid", &T::rid), text<T>("sdid", &T::sdid),
                                       text<T>("trid", &T::trid), text<T>("content", &T::content)};
};

// anbc and rnewbc carry the same fields (NobleEvent's).
template <class T>
struct NobleFields {
  static constexpr std::array kMembers{text<T>("uid", &T::uid), text<T>("unk", &T::unk),
                                       text<T>("drid", &T::drid), text<T>("donk", &T::donk),
                                       number<T>("nl", &T::nl)};
};
template <>
struct TypedFields<NobleOpen> : NobleFields<NobleOpen> {};
template <>
struct TypedFields<NobleRenew> : NobleFields<NobleRenew> {};

template <>
struct TypedFields<BadgeUp> {
  using T = BadgeUp;
  static constexpr std::array kMembers{text<T>("uid", &T::uid), text<T>("nn", &T::nn),
                                       text<T>("bnn", &T::bnn), number<T>("bl", &T::bl)};
};

template <>
struct TypedFields<LevelUp> {
  using T = LevelUp;
  static constexpr std::array kMembers{text<T>("uid", &T::uid), text<T>("nn", &T::nn),
                                       number<T>("level", &T::level)};
};

template <>
struct TypedFields<LoginResponse> {
  using T = LoginResponse;
  static constexpr std::array kMembers{text<T>("userid", &T::userid),
                                       text<T>("roomgroup", &T::roomgroup),
                                       text<T>("pg", &T::pg),
                                       text<T>("sessionid", &T::sessionid),
                                       text<T>("username", &T::username),
                                       text<T>("nickname", &T::nickname),
                                       number<T>("live_stat", &T::live_stat)};
};

template <>
struct TypedFields<ServerError> {
  using T = ServerError;
  static constexpr std::array kMembers{number<T>("code", &T::code)};
};

template <>
struct TypedFields<PingRequest> {
  using T = PingRequest;
  static constexpr std::array kMembers{number<T>("tick", &T::tick)};
};

template <>
struct TypedFields<RankList> {
  using T = RankList;  // and `type`, set by RankList::from()
  static constexpr std::array kMembers{number<T>("sum", &T::sum), text<T>("list", &T::list_text)};
};

namespace typed_fields_detail {
template <class T>
consteval auto keys_of() {
  constexpr auto& members = TypedFields<T>::kMembers;
  std::array<std::string_view, members.size()> keys{};
  for (size_t i = 0; i < members.size(); ++i) keys[i] = members[i].key;
  return keys;
}
template <class T>
inline constexpr KeyIndex<TypedFields<T>::kMembers.size()> kIndex{keys_of<T>()};
template <class T>
consteval bool has_member(bool text) {
  for (const auto& member : TypedFields<T>::kMembers) {
    if ((member.text != nullptr) == text) return true;
  }
  return false;
}
}  // namespace typed_fields_detail

// Sets `member` of `out` from the field's value. The kinds a table lacks are left out at compile
// time (a null pointer to member is never dereferenced, not even in dead code the compiler sees).
template <class T>
void set_member(T& out, const TypedMember<T>& member, std::string_view value) {
  constexpr bool kText = typed_fields_detail::has_member<T>(true);
  constexpr bool kNumber = typed_fields_detail::has_member<T>(false);
  if constexpr (kText && kNumber) {
    if (member.text != nullptr) {
      out.*member.text = value;
    } else {
      out.*member.number = typed_field_int(value);
    }
  } else if constexpr (kText) {
    out.*member.text = value;
  } else {
    out.*member.number = typed_field_int(value);
  }
}

// T's members filled from `m` in one walk over its fields (see the top of this file), into a
// default-constructed `out` (members whose key is absent keep their default: empty / 0); fields
// not in T's table are skipped.
template <class T>
void fill_into(T& out, const Message& m) {
  constexpr auto& members = TypedFields<T>::kMembers;
  constexpr size_t kCount = members.size();
  static_assert(kCount < 32, "seen is a 32-bit mask");
  constexpr uint32_t kAll = (uint32_t{1} << kCount) - 1;
  const auto& index = typed_fields_detail::kIndex<T>;
  uint32_t seen = 0;
  const auto fields = m.fields();  // read once: the stores into `out` would reload the Message
  for (size_t i = 0, n = fields.size(); i < n; ++i) {
    const Message::Field field = fields[i];
    const size_t at = index.find_or(field.key, kCount);
    if (at == kCount || ((seen >> at) & 1u) != 0) {
      continue;  // not a member, or a repeat: the first occurrence wins
    }
    seen |= uint32_t{1} << at;
    set_member(out, members[at], field.value);
    if (seen == kAll) {
      break;
    }
  }
}

// The same into a new T.
template <class T>
T fill(const Message& m) {
  T out{};
  fill_into(out, m);
  return out;
}

}  // namespace asyncore::douyu

// room_id.cc — room ids from numbers and room page URLs.
#include "douyu/protocol/room_id.h"

#include <algorithm>
#include <cctype>

namespace asyncore::douyu {
namespace {

constexpr std::string_view kWhereToFindIt =
    "use the numeric room id: it is the rid in the room page's URL (douyu.com/topic/...?rid=N) "
    "or \"room_id\" in the page source";

bool all_digits(std::string_view s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return c >= '0' && c <= '9'; });
}

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), s.begin(), [](unsigned char a, unsigned char b) {
           return std::tolower(a) == std::tolower(b);
         });
}

std::optional<std::string> fail(std::string* error, std::string why) {
  if (error != nullptr) *error = std::move(why);
  return std::nullopt;
}

// Digits to the canonical id, or the reason they are not one.
std::optional<std::string> numeric(std::string_view digits, std::string_view text,
                                   std::string* error) {
  if (digits.size() > kMaxRoomIdDigits) {
    return fail(error, "room id \"" + std::string(text) + "\" is longer than " +
                           std::to_string(kMaxRoomIdDigits) + " digits");
  }
  digits.remove_prefix(std::min(digits.find_first_not_of('0'), digits.size() - 1));
  return std::string(digits);
}

// The value of `key` in a query string "a=1&rid=2", if present.
std::optional<std::string_view> query_param(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    if (pair.size() > key.size() && pair.substr(0, key.size()) == key && pair[key.size()] == '=')
      return pair.substr(key.size() + 1);
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> parse_room_id(std::string_view text, std::string* error) {
  const std::string quoted = "\"" + std::string(text) + "\"";
  if (text.empty()) return fail(error, "empty room id");
  if (all_digits(text)) return numeric(text, text, error);

  // A URL, with or without its scheme: "[http[s]://]HOST/PATH[?QUERY][#FRAGMENT]".
  std::string_view rest = text;
  for (std::string_view scheme : {"https://", "http://"}) {
    if (starts_with_nocase(rest, scheme)) {
      rest.remove_prefix(scheme.size());
      break;
    }
  }
  rest = rest.substr(0, rest.find('#'));
  const size_t host_end = rest.find_first_of("/?");
  std::string host(rest.substr(0, host_end));
  std::transform(host.begin(), host.end(), host.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  rest.remove_prefix(host_end == std::string_view::npos ? rest.size() : host_end);
  const bool looks_like_url = host.find('.') != std::string::npos || !rest.empty();
  if (!looks_like_url) {
    // A bare word: most likely a vanity name ("xiaozhi") copied from a URL.
    return fail(error, "room " + quoted + " is not a number; " + std::string(kWhereToFindIt));
  }
  const bool douyu_host =
      host == "douyu.com" ||
      (host.size() > 10 && host.compare(host.size() - 10, 10, ".douyu.com") == 0);
  if (!douyu_host) {
    return fail(error, "room " + quoted + " is neither a number nor a douyu.com room URL");
  }

  const size_t query_at = rest.find('?');
  std::string_view path = rest.substr(0, query_at);
  const std::string_view query =
      query_at == std::string_view::npos ? std::string_view() : rest.substr(query_at + 1);
  if (auto rid = query_param(query, "rid")) {
    if (!all_digits(*rid)) {
      return fail(error,
                  "room URL " + quoted + ": rid \"" + std::string(*rid) + "\" is not a number");
    }
    return numeric(*rid, text, error);
  }
  // The path is the room: "/9999" (a trailing slash allowed).
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  if (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (all_digits(path)) return numeric(path, text, error);
  if (path.empty()) return fail(error, "room URL " + quoted + " names no room");
  return fail(error,
              "room URL " + quoted + " has no numeric room id; " + std::string(kWhereToFindIt));
}

}  // namespace asyncore::douyu

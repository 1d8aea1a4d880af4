#include "douyu/protocol/stt_value.h"

#include "douyu/protocol/stt.h"

namespace asyncore::douyu {

const SttValue* SttValue::find(std::string_view key) const {
  if (!is_map()) {
    return nullptr;
  }
  for (const auto& [k, v] : as_map()) {
    if (k == key) {
      return &v;
    }
  }
  return nullptr;
}

std::string_view SttValue::get(std::string_view key, std::string_view fallback) const {
  const SttValue* v = find(key);
  return v != nullptr && v->is_string() ? std::string_view(v->as_string()) : fallback;
}

namespace {
// Appends escape(encode(value)): a value placed inside a container.
void append_nested(std::string& out, const SttValue& value) {
  if (value.is_string()) {
    stt_append_escaped(out, value.as_string());
  } else {
    stt_append_escaped(out, stt_encode(value));
  }
}
}  // namespace

void stt_append_encoded(std::string& out, const SttValue& value) {
  if (value.is_string()) {
    out.append(value.as_string());
  } else if (value.is_list()) {
    for (const SttValue& item : value.as_list()) {
      append_nested(out, item);
      out.push_back('/');
    }
  } else {
    for (const auto& [key, v] : value.as_map()) {
      stt_append_escaped(out, key);
      out.append("@=", 2);
      append_nested(out, v);
      out.push_back('/');
    }
  }
}

std::string stt_encode(const SttValue& value) {
  std::string out;
  stt_append_encoded(out, value);
  return out;
}

SttValue::Map stt_decode_map(std::string_view text) {
  std::vector<RawField> raw;
  stt_scan_fields(text, raw);
  SttValue::Map map;
  map.reserve(raw.size());
  for (const RawField& f : raw) {
    map.emplace_back(stt_unescape(f.raw_key(text)), SttValue(stt_unescape(f.raw_value(text))));
  }
  return map;
}

SttValue::List stt_decode_list(std::string_view text) {
  std::vector<RawField> raw;
  stt_scan_items(text, raw);
  SttValue::List list;
  list.reserve(raw.size());
  for (const RawField& f : raw) {
    list.emplace_back(stt_unescape(f.raw_value(text)));
  }
  return list;
}

std::vector<SttValue::Map> stt_decode_map_list(std::string_view text) {
  std::vector<SttValue::Map> out;
  for (const SttValue& item : stt_decode_list(text)) {
    out.push_back(stt_decode_map(item.as_string()));
  }
  return out;
}

SttValue stt_decode_value(std::string_view text, int max_depth) {
  if (max_depth <= 0 || text.empty() || text.back() != '/') {
    return SttValue(text);
  }
  std::vector<RawField> raw;
  if (stt_looks_like_map(text)) {
    stt_scan_fields(text, raw);
    SttValue::Map map;
    map.reserve(raw.size());
    for (const RawField& f : raw) {
      map.emplace_back(stt_unescape(f.raw_key(text)),
                       stt_decode_value(stt_unescape(f.raw_value(text)), max_depth - 1));
    }
    return SttValue(std::move(map));
  }
  stt_scan_items(text, raw);
  SttValue::List list;
  list.reserve(raw.size());
  for (const RawField& f : raw) {
    list.push_back(stt_decode_value(stt_unescape(f.raw_value(text)), max_depth - 1));
  }
  return SttValue(std::move(list));
}

std::string to_debug_string(const SttValue& value) {
  std::string out;
  if (value.is_string()) {
    out.push_back('"');
    out.append(value.as_string());
    out.push_back('"');
  } else if (value.is_list()) {
    out.push_back('[');
    for (size_t i = 0; i < value.as_list().size(); ++i) {
      if (i > 0) {
        out.append(", ");
      }
      out.append(to_debug_string(value.as_list()[i]));
    }
    out.push_back(']');
  } else {
    out.push_back('{');
    for (size_t i = 0; i < value.as_map().size(); ++i) {
      if (i > 0) {
        out.append(", ");
      }
      out.append(value.as_map()[i].first).append(": ");
      out.append(to_debug_string(value.as_map()[i].second));
    }
    out.push_back('}');
  }
  return out;
}

}  // namespace asyncore::douyu

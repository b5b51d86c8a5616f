#include "proxy_wasm/sdk/json.h"

#include <algorithm>
#include <charconv>

namespace proxy_wasm::json {
namespace {

template <class Int>
std::optional<Int> parseDecimal(std::string_view s) {
  Int v{};
  if (s.empty()) return std::nullopt;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

template <class T, class F>
JsonResult<std::optional<T>> optionalMember(const Value& v, std::string_view key, F convert) {
  auto member = v.find(key);
  if (!member) return std::optional<T>();
  auto r = convert(*member);
  if (!r) return unexpected(std::move(r).error());
  return std::optional<T>(std::move(*r));
}

}  // namespace

std::string Value::childPath(std::string_view key) const {
  std::string p = path_;
  if (!p.empty()) p += '.';
  p += key;
  return p;
}

Error Value::typeError(std::string_view expected) const {
  return error(std::string("expected ") + std::string(expected) + ", got " + json_->type_name());
}

JsonResult<std::string> Value::asString() const {
  if (!json_->is_string()) return unexpected(typeError("string"));
  return json_->get_ref<const std::string&>();
}

JsonResult<int64_t> Value::asInt64() const {
  if (json_->is_number_unsigned()) {
    uint64_t u = json_->get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) return unexpected(error("integer out of range"));
    return static_cast<int64_t>(u);
  }
  if (json_->is_number_integer()) return json_->get<int64_t>();
  if (json_->is_number_float()) {
    double d = json_->get<double>();
    if (!(d >= -9.2e18 && d <= 9.2e18)) return unexpected(error("integer out of range"));
    return static_cast<int64_t>(d);
  }
  if (json_->is_string()) {
    auto v = parseDecimal<int64_t>(json_->get_ref<const std::string&>());
    if (!v)
      return unexpected(error("expected an integer, got string \"" +
                              json_->get_ref<const std::string&>() + "\""));
    return *v;
  }
  return unexpected(typeError("integer"));
}

JsonResult<uint64_t> Value::asUint64() const {
  if (json_->is_number_unsigned()) return json_->get<uint64_t>();
  if (json_->is_number_integer() || json_->is_number_float()) {
    auto i = asInt64();
    if (!i) return unexpected(std::move(i).error());
    if (*i < 0) return unexpected(error("expected a non-negative integer"));
    return static_cast<uint64_t>(*i);
  }
  if (json_->is_string()) {
    auto v = parseDecimal<uint64_t>(json_->get_ref<const std::string&>());
    if (!v)
      return unexpected(error("expected a non-negative integer, got string \"" +
                              json_->get_ref<const std::string&>() + "\""));
    return *v;
  }
  return unexpected(typeError("integer"));
}

JsonResult<double> Value::asDouble() const {
  if (json_->is_number()) return json_->get<double>();
  return unexpected(typeError("number"));
}

JsonResult<bool> Value::asBool() const {
  if (json_->is_boolean()) return json_->get<bool>();
  if (json_->is_string()) {
    const auto& s = json_->get_ref<const std::string&>();
    if (s == "true") return true;
    if (s == "false") return false;
  }
  return unexpected(typeError("boolean"));
}

JsonResult<std::vector<Value>> Value::asArray() const {
  if (!json_->is_array()) return unexpected(typeError("array"));
  std::vector<Value> out;
  out.reserve(json_->size());
  size_t i = 0;
  for (const auto& element : *json_) {
    out.push_back(child(element, path_ + "[" + std::to_string(i++) + "]"));
  }
  return out;
}

JsonResult<std::vector<std::string>> Value::asStringList() const {
  auto elements = asArray();
  if (!elements) return unexpected(std::move(elements).error());
  std::vector<std::string> out;
  for (const auto& e : *elements) {
    auto s = e.asString();
    if (!s) return unexpected(std::move(s).error());
    out.push_back(std::move(*s));
  }
  return out;
}

JsonResult<std::vector<std::pair<std::string, Value>>> Value::asObject() const {
  if (!json_->is_object()) return unexpected(typeError("object"));
  std::vector<std::pair<std::string, Value>> out;
  for (auto it = json_->begin(); it != json_->end(); ++it) {
    out.emplace_back(it.key(), child(it.value(), childPath(it.key())));
  }
  return out;
}

std::optional<Value> Value::find(std::string_view key) const {
  if (!json_->is_object()) return std::nullopt;
  auto it = json_->find(key);
  if (it == json_->end()) return std::nullopt;
  return child(*it, childPath(key));
}

JsonResult<Value> Value::require(std::string_view key) const {
  if (!json_->is_object()) return unexpected(typeError("object"));
  auto v = find(key);
  if (!v) return unexpected(Error{childPath(key), "missing required field"});
  return *v;
}

std::optional<Error> Value::unknownField(std::initializer_list<std::string_view> known) const {
  if (!json_->is_object()) return typeError("object");
  for (const auto& [key, value] : json_->items()) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      return Error{childPath(key), "unknown field"};
    }
  }
  return std::nullopt;
}

JsonResult<std::optional<std::string>> Value::getString(std::string_view key) const {
  return optionalMember<std::string>(*this, key, [](const Value& v) { return v.asString(); });
}
JsonResult<std::optional<int64_t>> Value::getInt64(std::string_view key) const {
  return optionalMember<int64_t>(*this, key, [](const Value& v) { return v.asInt64(); });
}
JsonResult<std::optional<uint64_t>> Value::getUint64(std::string_view key) const {
  return optionalMember<uint64_t>(*this, key, [](const Value& v) { return v.asUint64(); });
}
JsonResult<std::optional<bool>> Value::getBool(std::string_view key) const {
  return optionalMember<bool>(*this, key, [](const Value& v) { return v.asBool(); });
}

JsonResult<std::vector<Value>> Value::getArray(std::string_view key) const {
  auto v = find(key);
  if (!v) return std::vector<Value>();
  return v->asArray();
}

JsonResult<std::string> Value::requireString(std::string_view key) const {
  auto v = require(key);
  if (!v) return unexpected(v.error());
  return v->asString();
}
JsonResult<uint64_t> Value::requireUint64(std::string_view key) const {
  auto v = require(key);
  if (!v) return unexpected(v.error());
  return v->asUint64();
}
JsonResult<std::string> Value::getString(std::string_view key, std::string_view fallback) const {
  auto v = getString(key);
  if (!v) return unexpected(v.error());
  return v->has_value() ? std::move(**v) : std::string(fallback);
}
JsonResult<uint64_t> Value::getUint64(std::string_view key, uint64_t fallback) const {
  auto v = getUint64(key);
  if (!v) return unexpected(v.error());
  return v->value_or(fallback);
}
JsonResult<bool> Value::getBool(std::string_view key, bool fallback) const {
  auto v = getBool(key);
  if (!v) return unexpected(v.error());
  return v->value_or(fallback);
}

JsonResult<std::vector<std::string>> Value::getStringList(std::string_view key) const {
  auto v = find(key);
  if (!v) return std::vector<std::string>();
  return v->asStringList();
}

JsonResult<Document> parseObject(std::string_view text, bool empty_is_object) {
  if (empty_is_object && text.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return Document(Json::object());
  }
  Json json = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return unexpected(Error{"", "configuration is not valid JSON"});
  if (!json.is_object()) {
    return unexpected(
        Error{"", std::string("configuration must be a JSON object, got ") + json.type_name()});
  }
  return Document(std::move(json));
}

}  // namespace proxy_wasm::json

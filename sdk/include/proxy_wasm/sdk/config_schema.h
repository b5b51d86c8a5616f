// Declarative plugin configuration, in the spirit of nginx's directive tables: a schema lists the
// fields of a JSON object (key, the member it fills, required or not, bounds, or a reader of its
// own), and reads an object into a config struct. Every error names the JSON path
// ("timeout_ms: must be at most 600000"); a key the schema does not list is refused
// ("<key>: unknown field"), never ignored.
//
//   const auto kSchema = config::Schema<Config>()
//       .string("opa_cluster_name", &Config::cluster, config::kRequired | config::kNonEmpty)
//       .integer("timeout_ms", &Config::timeout_ms, {1, 600000})
//       .boolean("failure_mode_allow", &Config::failure_mode_allow);
//   Expected<Config, std::string> c = kSchema.parse(text);
//
// Defaults are the config struct's member initialisers. Header-only; no exceptions.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy_wasm/sdk/expected.h"
#include "proxy_wasm/sdk/json.h"

namespace proxy_wasm::config {

using Error = std::string;  // "<path>: <message>"

enum Flags : unsigned {
  kOptional = 0,
  kRequired = 1,  // absent: "<path>: missing required field"
  kNonEmpty = 2,  // strings: "" is refused
};

struct Bounds {
  uint64_t min = 0;
  uint64_t max = std::numeric_limits<uint64_t>::max();
};

template <class Config>
class Schema {
 public:
  // Reads a present value into the config, or says what is wrong with it.
  using Reader = std::function<std::optional<Error>(const json::Value& value, Config& out)>;
  // Checks the whole object after every field was read (fields that depend on each other).
  using Check = std::function<std::optional<Error>(const json::Value& object, Config& out)>;

  Schema& field(std::string_view key, Reader read, unsigned flags = kOptional) {
    fields_.push_back(Field{std::string(key), std::move(read), flags});
    return *this;
  }

  Schema& string(std::string_view key, std::string Config::* member, unsigned flags = kOptional) {
    return field(
        key,
        [member, flags](const json::Value& v, Config& out) -> std::optional<Error> {
          auto s = v.asString();
          if (!s) return s.error().toString();
          if ((flags & kNonEmpty) != 0 && s->empty()) return v.path() + ": must not be empty";
          out.*member = std::move(*s);
          return std::nullopt;
        },
        flags);
  }

  template <class Int>
  Schema& integer(std::string_view key, Int Config::* member, Bounds bounds = {},
                  unsigned flags = kOptional) {
    bounds.max = std::min<uint64_t>(bounds.max, std::numeric_limits<Int>::max());
    return field(
        key,
        [member, bounds](const json::Value& v, Config& out) -> std::optional<Error> {
          auto n = v.asUint64();
          if (!n) return n.error().toString();
          if (*n < bounds.min) return v.path() + ": must be at least " + std::to_string(bounds.min);
          if (*n > bounds.max) return v.path() + ": must be at most " + std::to_string(bounds.max);
          out.*member = static_cast<Int>(*n);
          return std::nullopt;
        },
        flags);
  }

  Schema& boolean(std::string_view key, bool Config::* member) {
    return field(key, [member](const json::Value& v, Config& out) -> std::optional<Error> {
      auto b = v.asBool();
      if (!b) return b.error().toString();
      out.*member = *b;
      return std::nullopt;
    });
  }

  Schema& stringList(std::string_view key, std::vector<std::string> Config::* member) {
    return field(key, [member](const json::Value& v, Config& out) -> std::optional<Error> {
      auto list = v.asStringList();
      if (!list) return list.error().toString();
      out.*member = std::move(*list);
      return std::nullopt;
    });
  }

  // An array of objects, each read by `item` (its errors name "<key>[i].<field>").
  template <class Item>
  Schema& list(std::string_view key, std::vector<Item> Config::* member, Schema<Item> item,
               unsigned flags = kOptional) {
    return field(
        key,
        [member, item = std::move(item)](const json::Value& v,
                                         Config& out) -> std::optional<Error> {
          auto elements = v.asArray();
          if (!elements) return elements.error().toString();
          for (const auto& element : *elements) {
            Item one;
            if (auto e = item.read(element, one)) return e;
            (out.*member).push_back(std::move(one));
          }
          return std::nullopt;
        },
        flags);
  }

  // A nested object read by `sub`.
  template <class Sub>
  Schema& object(std::string_view key, Sub Config::* member, Schema<Sub> sub,
                 unsigned flags = kOptional) {
    return field(
        key,
        [member, sub = std::move(sub)](const json::Value& v, Config& out) -> std::optional<Error> {
          return sub.read(v, out.*member);
        },
        flags);
  }

  Schema& check(Check c) {
    checks_.push_back(std::move(c));
    return *this;
  }

  // Reads `object` into `out`, field by field in the schema's order, then the checks.
  std::optional<Error> read(const json::Value& object, Config& out) const {
    auto members = object.asObject();
    if (!members) return members.error().toString();
    for (const auto& [key, value] : *members) {
      if (find(key) == nullptr) return value.path() + ": unknown field";
    }
    for (const Field& f : fields_) {
      auto value = object.find(f.key);
      if (!value) {
        if ((f.flags & kRequired) != 0) {
          return (object.path().empty() ? "" : object.path() + ".") + f.key +
                 ": missing required field";
        }
        continue;
      }
      if (auto e = f.read(*value, out)) return e;
    }
    for (const Check& c : checks_) {
      if (auto e = c(object, out)) return e;
    }
    return std::nullopt;
  }

  // Parses a plugin configuration; an empty text is `{}` when `empty_is_object`.
  Expected<Config, Error> parse(std::string_view text, bool empty_is_object = false) const {
    auto doc = json::parseObject(text, empty_is_object);
    if (!doc) return unexpected("cannot parse plugin configuration: " + doc.error().toString());
    Config out;
    if (auto e = read(doc->root(), out)) return unexpected(std::move(*e));
    return out;
  }

 private:
  struct Field {
    std::string key;
    Reader read;
    unsigned flags;
  };
  const Field* find(std::string_view key) const {
    for (const Field& f : fields_) {
      if (f.key == key) return &f;
    }
    return nullptr;
  }
  std::vector<Field> fields_;
  std::vector<Check> checks_;
};

}  // namespace proxy_wasm::config

// Reading a JSON plugin configuration without exceptions, with errors that name the field:
//
//   auto doc = proxy_wasm::json::parseObject(configuration);
//   if (!doc) { logError(doc.error().toString()); return false; }
//   auto rules = doc->root().getArray("basic_auth_rules");        // absent -> empty list
//   for (const auto& rule : *rules) {
//     auto prefix = rule.getString("prefix");                     // Expected<std::optional<...>>
//     auto realm = rule.getString("realm", "istio");               // Expected<std::string>
//     auto user = rule.requireString("user");                      // absent -> error
//   ...
//   // errors read like: "basic_auth_rules[2].credentials[0]: expected string, got number"
//
// Built on nlohmann::json with JSON_NOEXCEPTION; every accessor checks the type first, so nothing
// here can abort. Conversions follow upstream's json_util: integers also accept base-10 strings
// ("10"), booleans also accept "true"/"false".
#pragma once

#ifndef JSON_NOEXCEPTION
#define JSON_NOEXCEPTION 1
#endif
#include <nlohmann/json.hpp>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy_wasm/sdk/expected.h"

namespace proxy_wasm::json {

using Json = nlohmann::json;

struct Error {
  std::string path;  // e.g. "basic_auth_rules[2].credentials[0]"; empty for the document
  std::string message;
  std::string toString() const { return path.empty() ? message : path + ": " + message; }
};

template <class T>
using JsonResult = Expected<T, Error>;

// A value inside a document, with its path. Shares ownership of the document, so a Value stays
// valid however long it is kept.
class Value {
 public:
  Value(std::shared_ptr<const Json> document, const Json& json, std::string path)
      : document_(std::move(document)), json_(&json), path_(std::move(path)) {}

  const Json& json() const { return *json_; }
  const std::string& path() const { return path_; }
  bool isNull() const { return json_->is_null(); }
  bool isObject() const { return json_->is_object(); }
  bool isArray() const { return json_->is_array(); }
  bool isString() const { return json_->is_string(); }

  JsonResult<std::string> asString() const;
  JsonResult<int64_t> asInt64() const;
  JsonResult<uint64_t> asUint64() const;
  JsonResult<double> asDouble() const;
  JsonResult<bool> asBool() const;
  JsonResult<std::vector<Value>> asArray() const;
  JsonResult<std::vector<std::string>> asStringList() const;
  JsonResult<std::vector<std::pair<std::string, Value>>> asObject() const;

  // Member access on an object. find() gives nullopt when absent or when this is not an object.
  std::optional<Value> find(std::string_view key) const;
  // An object whose members are all in `known`: nullopt; else the error naming the first other
  // member ("<path>: unknown field"), or a type error when this is not an object.
  std::optional<Error> unknownField(std::initializer_list<std::string_view> known) const;
  // Absent -> error "missing required field".
  JsonResult<Value> require(std::string_view key) const;
  // Optional members: absent -> nullopt, present with the wrong type -> error.
  JsonResult<std::optional<std::string>> getString(std::string_view key) const;
  JsonResult<std::optional<int64_t>> getInt64(std::string_view key) const;
  JsonResult<std::optional<uint64_t>> getUint64(std::string_view key) const;
  JsonResult<std::optional<bool>> getBool(std::string_view key) const;
  // Required members in one call: absent -> "missing required field", wrong type -> error.
  JsonResult<std::string> requireString(std::string_view key) const;
  JsonResult<uint64_t> requireUint64(std::string_view key) const;
  // Members with a default: absent -> `fallback`, present with the wrong type -> error.
  JsonResult<std::string> getString(std::string_view key, std::string_view fallback) const;
  JsonResult<uint64_t> getUint64(std::string_view key, uint64_t fallback) const;
  JsonResult<bool> getBool(std::string_view key, bool fallback) const;
  // Absent -> empty list.
  JsonResult<std::vector<Value>> getArray(std::string_view key) const;
  JsonResult<std::vector<std::string>> getStringList(std::string_view key) const;

  // An error located at this value.
  Error error(std::string message) const { return Error{path_, std::move(message)}; }

 private:
  std::string childPath(std::string_view key) const;
  Error typeError(std::string_view expected) const;
  Value child(const Json& json, std::string path) const {
    return Value(document_, json, std::move(path));
  }
  std::shared_ptr<const Json> document_;
  const Json* json_;
  std::string path_;
};

// A parsed document.
class Document {
 public:
  explicit Document(Json json) : json_(std::make_shared<const Json>(std::move(json))) {}
  Value root() const { return Value(json_, *json_, ""); }

 private:
  std::shared_ptr<const Json> json_;
};

// Parses `text`; fails when it is not valid JSON or the top level is not an object. An empty text
// is treated as an empty object when `empty_is_object` (a plugin with no configuration).
JsonResult<Document> parseObject(std::string_view text, bool empty_is_object = false);

}  // namespace proxy_wasm::json

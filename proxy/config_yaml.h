// Reading Envoy's YAML/JSON fields for the bootstrap parser (config.cc): typed readers whose
// errors name the field's path ("static_resources.listeners[0].address: ..."), the check that an
// object holds only known keys (read, or accepted without effect), and Envoy's Any-wrapped plugin
// configuration (StringValue, BytesValue or Struct) as the plugin's bytes.
#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>

#include "config.h"

namespace wasm_proxy::config_yaml {

// Thrown by fail(); parseBootstrap turns it into the error it returns.
struct ConfigError {
  std::string message;
};

[[noreturn]] void fail(const std::string& path, const std::string& message);
std::string child(const std::string& path, const std::string& key);
std::string index(const std::string& path, size_t i);
// Known keys of an object: `used` are read, `ignored` are accepted without effect; anything else
// is an error naming it.
void checkKeys(const YAML::Node& n, const std::string& path,
               std::initializer_list<const char*> used,
               std::initializer_list<const char*> ignored = {});
std::string str(const YAML::Node& n, const std::string& path);
uint64_t num(const YAML::Node& n, const std::string& path, uint64_t max = UINT32_MAX);
bool boolean(const YAML::Node& n, const std::string& path);
// "1s", "0.25s" or {seconds, nanos}.
std::chrono::milliseconds duration(const YAML::Node& n, const std::string& path);
SocketAddress socketAddress(const YAML::Node& n, const std::string& path);
std::string lower(std::string s);
std::string typeOf(const YAML::Node& typed_config);
bool endsWith(const std::string& s, const std::string& suffix);
std::optional<std::string> readFile(const std::string& file);
// Envoy's DataSource (`filename`, `inline_string` or `inline_bytes` in base64). A relative file
// name is tried as given, then relative to `base_dir` (the config file's directory).
std::string dataSource(const YAML::Node& n, const std::string& path, const std::string& base_dir,
                       std::string* read_from = nullptr);
// A YAML value as JSON: unquoted numbers, booleans and null stay literals, the rest strings.
std::string yamlAsJson(const YAML::Node& n);
// A plugin's `configuration` (google.protobuf.Any): the string, the bytes, or a Struct as JSON.
std::string anyConfiguration(const YAML::Node& n, const std::string& path);

}  // namespace wasm_proxy::config_yaml

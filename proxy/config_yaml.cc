#include "config_yaml.h"

#include <re2/re2.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

namespace wasm_proxy::config_yaml {

[[noreturn]] void fail(const std::string& path, const std::string& message) {
  throw ConfigError{(path.empty() ? std::string() : path + ": ") + message};
}

std::string child(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}
std::string index(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

void checkKeys(const YAML::Node& n, const std::string& path,
               std::initializer_list<const char*> used,
               std::initializer_list<const char*> ignored) {
  if (!n.IsMap()) fail(path, "expected an object");
  for (auto it = n.begin(); it != n.end(); ++it) {
    std::string key = it->first.as<std::string>();
    auto eq = [&](const char* k) { return key == k; };
    if (std::any_of(used.begin(), used.end(), eq) ||
        std::any_of(ignored.begin(), ignored.end(), eq)) {
      continue;
    }
    fail(child(path, key), "unsupported field (wasm-proxy runs a subset of Envoy's API)");
  }
}

std::string str(const YAML::Node& n, const std::string& path) {
  if (!n.IsScalar()) fail(path, "expected a string");
  return n.Scalar();
}

uint64_t num(const YAML::Node& n, const std::string& path, uint64_t max) {
  if (!n.IsScalar()) fail(path, "expected a number");
  const std::string& s = n.Scalar();
  uint64_t v = 0;
  if (s.empty() || s.size() > 20 || !std::all_of(s.begin(), s.end(), ::isdigit)) {
    fail(path, "expected a non-negative integer, got \"" + s + "\"");
  }
  v = std::stoull(s);
  if (v > max) fail(path, "value " + s + " out of range (max " + std::to_string(max) + ")");
  return v;
}

bool boolean(const YAML::Node& n, const std::string& path) {
  if (n.IsScalar() && (n.Scalar() == "true" || n.Scalar() == "false")) return n.Scalar() == "true";
  fail(path, "expected true or false");
}

// Envoy durations: "1s", "0.25s", "1.5s", or {seconds, nanos}.
std::chrono::milliseconds duration(const YAML::Node& n, const std::string& path) {
  if (n.IsMap()) {
    checkKeys(n, path, {"seconds", "nanos"});
    uint64_t s = n["seconds"] ? num(n["seconds"], child(path, "seconds"), 315576000000ull) : 0;
    uint64_t ns = n["nanos"] ? num(n["nanos"], child(path, "nanos"), 999999999) : 0;
    return std::chrono::milliseconds(s * 1000 + ns / 1000000);
  }
  std::string s = str(n, path);
  if (s.size() < 2 || s.back() != 's') fail(path, "expected a duration like \"1s\" or \"0.25s\"");
  try {
    size_t used = 0;
    double seconds = std::stod(s.substr(0, s.size() - 1), &used);
    if (used != s.size() - 1 || seconds < 0) throw std::invalid_argument("");
    return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000 + 0.5));
  } catch (const std::exception&) {
    fail(path, "expected a duration like \"1s\" or \"0.25s\", got \"" + s + "\"");
  }
}

SocketAddress socketAddress(const YAML::Node& n, const std::string& path) {
  checkKeys(n, path, {"socket_address"});
  std::string p = child(path, "socket_address");
  const YAML::Node sa = n["socket_address"];
  checkKeys(sa, p, {"address", "port_value"}, {"protocol", "ipv4_compat"});
  if (!sa["address"]) fail(child(p, "address"), "missing required field");
  if (!sa["port_value"]) fail(child(p, "port_value"), "missing required field");
  return SocketAddress{str(sa["address"], child(p, "address")),
                       static_cast<uint16_t>(num(sa["port_value"], child(p, "port_value"), 65535))};
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string typeOf(const YAML::Node& typed_config) {
  if (!typed_config || !typed_config["@type"]) return "";
  return typed_config["@type"].Scalar();
}

bool endsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

namespace {

void jsonString(const std::string& s, std::string* out) {
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        *out += "\\\"";
        break;
      case '\\':
        *out += "\\\\";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\r':
        *out += "\\r";
        break;
      case '\t':
        *out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          *out += buf;
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

bool plainJsonLiteral(const std::string& s) {
  if (s == "true" || s == "false" || s == "null") return true;
  static const re2::RE2 number(R"(-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?)");
  return re2::RE2::FullMatch(s, number);
}

// A YAML value as JSON (the Struct of a google.protobuf.Any): unquoted numbers, booleans and
// null stay literals, everything else becomes a string.
void yamlToJson(const YAML::Node& n, std::string* out) {
  switch (n.Type()) {
    case YAML::NodeType::Map: {
      out->push_back('{');
      bool first = true;
      for (auto it = n.begin(); it != n.end(); ++it) {
        if (!first) out->push_back(',');
        first = false;
        jsonString(it->first.as<std::string>(), out);
        out->push_back(':');
        yamlToJson(it->second, out);
      }
      out->push_back('}');
      break;
    }
    case YAML::NodeType::Sequence: {
      out->push_back('[');
      for (size_t i = 0; i < n.size(); ++i) {
        if (i > 0) out->push_back(',');
        yamlToJson(n[i], out);
      }
      out->push_back(']');
      break;
    }
    case YAML::NodeType::Scalar:
      if (n.Tag() != "!" && plainJsonLiteral(n.Scalar())) {
        *out += n.Scalar();
      } else {
        jsonString(n.Scalar(), out);
      }
      break;
    default:
      *out += "null";
  }
}

}  // namespace

std::string yamlAsJson(const YAML::Node& n) {
  std::string out;
  yamlToJson(n, &out);
  return out;
}

// google.protobuf.Any holding StringValue/BytesValue (raw) or Struct (JSON), as Envoy passes
// configuration to plugins.
std::optional<std::string> readFile(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

namespace {

std::string decodeBase64(const std::string& in, const std::string& path) {
  static constexpr std::string_view chars =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=' || c == '\n' || c == '\r') continue;
    size_t v = chars.find(c);
    if (v == std::string::npos) fail(path, "invalid base64");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

}  // namespace

std::string dataSource(const YAML::Node& n, const std::string& path, const std::string& base_dir,
                       std::string* read_from) {
  checkKeys(n, path, {"filename", "inline_string", "inline_bytes"});
  if (n["inline_string"]) return str(n["inline_string"], child(path, "inline_string"));
  if (n["inline_bytes"]) {
    return decodeBase64(str(n["inline_bytes"], child(path, "inline_bytes")),
                        child(path, "inline_bytes"));
  }
  if (!n["filename"]) fail(path, "one of filename, inline_string or inline_bytes is required");
  std::string file = str(n["filename"], child(path, "filename"));
  auto bytes = readFile(file);
  if (!bytes && !std::filesystem::path(file).is_absolute()) {
    std::string in_base = (std::filesystem::path(base_dir) / file).string();
    bytes = readFile(in_base);
    if (bytes) file = in_base;
  }
  if (!bytes) fail(child(path, "filename"), "cannot read " + file);
  if (read_from != nullptr) *read_from = file;
  return *bytes;
}

std::string anyConfiguration(const YAML::Node& n, const std::string& path) {
  if (n.IsScalar()) return n.Scalar();  // a plain string (tolerated)
  std::string type = typeOf(n);
  if (endsWith(type, "google.protobuf.StringValue") ||
      endsWith(type, "google.protobuf.BytesValue")) {
    checkKeys(n, path, {"@type", "value"});
    return n["value"] ? str(n["value"], child(path, "value")) : "";
  }
  if (endsWith(type, "google.protobuf.Struct")) {
    checkKeys(n, path, {"@type", "value"});
    std::string json;
    yamlToJson(n["value"], &json);
    return json;
  }
  fail(path, "expected a google.protobuf.StringValue, BytesValue or Struct (\"@type\")");
}

}  // namespace wasm_proxy::config_yaml

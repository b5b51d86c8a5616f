// Native (C++) HTTP filters, configured from the bootstrap as Envoy's filter factories are: a
// registered type is found by the filter's name or its typed_config @type, parses that config
// once per bootstrap into a NativeFilterConfig (errors name the YAML path), and the config
// creates one filter per stream. Adding a filter: implement NativeFilterConfig, add one row to
// the table in native_filters.cc.
#pragma once

#include <yaml-cpp/yaml.h>

#include <boost/asio.hpp>

#include <memory>
#include <string>
#include <string_view>

#include "filter_manager.h"

namespace wasm_proxy {

struct WorkerConfig;

// What a native filter may use beyond its stream: the worker's executor (for timers and
// fetches) and the config snapshot the stream runs with (its upstream pools).
struct FilterContext {
  boost::asio::any_io_executor executor;
  std::shared_ptr<WorkerConfig> config;
};

class NativeFilterConfig {
 public:
  virtual ~NativeFilterConfig() = default;
  virtual std::unique_ptr<StreamFilter> create(StreamFilterCallbacks& callbacks,
                                               const FilterContext& context) const = 0;
  // Clusters the filter will call (checked to exist when the bootstrap loads).
  virtual std::vector<std::string> clusters() const { return {}; }
};

struct NativeFilterType {
  std::string_view name;         // e.g. "envoy.filters.http.jwt_authn"
  std::string_view type_suffix;  // the end of the typed_config @type, e.g. "JwtAuthentication"
  std::shared_ptr<const NativeFilterConfig> (*parse)(const YAML::Node& typed_config,
                                                     const std::string& path,
                                                     const std::string& base_dir);
};

// The registered type a filter entry names (by name, or by its typed_config @type), or null.
const NativeFilterType* findNativeFilter(std::string_view name, std::string_view type_url);
// "a, b" for messages.
std::string nativeFilterNames();

}  // namespace wasm_proxy

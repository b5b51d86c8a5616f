// envoy.filters.http.wasm: the adapter from the filter chain's StreamFilter to one plugin's
// stream context (the host's StreamHost). One instance per plugin per stream; it holds the VM
// the stream started on (a reload does not move a stream).
#pragma once

#include <memory>
#include <string>

#include "filter_manager.h"
#include "proxy_wasm/host/embedder.h"
#include "proxy_wasm/host/vm.h"

namespace wasm_proxy {

class WasmHttpFilter final : public StreamFilter, public proxy_wasm::host::StreamHost {
 public:
  // `fail_open`: the plugin's failure policy lets streams through a failed VM (FAIL_OPEN);
  // otherwise a stream that meets a failed VM gets a 503.
  WasmHttpFilter(StreamFilterCallbacks& callbacks, std::shared_ptr<proxy_wasm::host::Vm> vm,
                 uint32_t root_context_id, bool fail_open);
  ~WasmHttpFilter() override;

  // StreamFilter
  HeadersStatus decodeHeaders(bool end_stream) override;
  DataStatus decodeData(std::string& data, bool end_stream) override;
  TrailersStatus decodeTrailers() override;
  HeadersStatus encodeHeaders(bool end_stream) override;
  DataStatus encodeData(std::string& data, bool end_stream) override;
  TrailersStatus encodeTrailers() override;
  // A failed VM is out of the chain when it fails open, or once it has answered this stream's
  // request with its failure (the 503 then goes out without it).
  bool bypassed() const override { return vm_->failed() && (fail_open_ || failure_replied_); }
  void onStreamComplete() override;

  // StreamHost
  proxy_wasm::host::HeaderMap* headers(proxy_wasm::host::MapType type) override;
  std::string* body(proxy_wasm::host::BufferType type) override;
  void sendLocalReply(proxy_wasm::host::LocalReply reply) override;
  void continueStream(proxy_wasm::host::StreamType type) override;
  void closeStream(proxy_wasm::host::StreamType type) override;
  proxy_wasm::host::WasmResult getProperty(std::string_view path, std::string* value) override;
  proxy_wasm::host::WasmResult setProperty(std::string_view path, std::string_view value) override;

 private:
  StreamFilterCallbacks& callbacks_;
  std::shared_ptr<proxy_wasm::host::Vm> vm_;
  uint32_t id_ = 0;
  bool fail_open_;
  bool failure_replied_ = false;
  // The body a data callback is looking at, per direction; an empty one outside data callbacks
  // (Envoy answers a read of the other direction's body with an empty buffer).
  std::string* body_[2] = {nullptr, nullptr};
  std::string no_body_;
};

}  // namespace wasm_proxy

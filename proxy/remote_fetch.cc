#include "remote_fetch.h"

#include <curl/curl.h>

#include <thread>

namespace wasm_proxy {

namespace {

struct Sink {
  std::string* body;
  size_t max;
};

size_t append(char* data, size_t size, size_t n, void* user) {
  auto* sink = static_cast<Sink*>(user);
  if (sink->body->size() + size * n > sink->max) return 0;  // aborts the transfer
  sink->body->append(data, size * n);
  return size * n;
}

}  // namespace

std::string FetchResponse::describe(const std::string& url) const {
  return error.empty() ? url + " answered HTTP " + std::to_string(status)
                       : "cannot fetch " + url + ": " + error;
}

FetchResponse httpGet(const std::string& url, const FetchOptions& options) {
  FetchResponse r;
  for (int attempt = 0; attempt <= options.retries; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(options.back_off * (1 << (attempt - 1)));
    r = FetchResponse{};
    Sink sink{&r.body, options.max_bytes};
    CURL* curl = curl_easy_init();
    curl_slist* headers = nullptr;
    if (!options.accept.empty()) {
      headers = curl_slist_append(headers, ("Accept: " + options.accept).c_str());
    }
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);  // registries redirect blobs to storage
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout.count()));
    const CURLcode rc = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    if (rc != CURLE_OK) {
      r.error = curl_easy_strerror(rc);
      continue;
    }
    if (r.status < 500) return r;
  }
  return r;
}

}  // namespace wasm_proxy

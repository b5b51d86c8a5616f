#include "istio/image_fetcher.h"

#include <zlib.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "config_yaml.h"
#include "remote_fetch.h"

namespace wasm_proxy::istio {

namespace {

constexpr size_t kMaxModuleBytes = 256u << 20;  // Istio's limit
constexpr size_t kMaxManifestBytes = 4u << 20;

long envNumber(const char* name, long fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  // Istio's durations ("15s") and plain numbers of seconds both read as seconds here.
  return end != v ? n : fallback;
}

// A GET with Istio's timeout and retries (transport errors and 5xx are retried).
FetchResponse get(const std::string& url, const std::string& accept = "") {
  FetchOptions o;
  o.timeout = std::chrono::seconds(envNumber("WASM_HTTP_REQUEST_TIMEOUT", 15));
  o.retries = static_cast<int>(envNumber("WASM_HTTP_REQUEST_MAX_RETRIES", 5));
  o.accept = accept;
  o.max_bytes = kMaxModuleBytes + kMaxManifestBytes;
  return httpGet(url, o);
}

bool insecure(const std::string& host) {
  const char* list = std::getenv("WASM_INSECURE_REGISTRIES");
  if (list == nullptr) return false;
  std::stringstream ss(list);
  for (std::string item; std::getline(ss, item, ',');) {
    if (item == "*" || item == host || item == host.substr(0, host.find(':'))) return true;
  }
  return false;
}

std::optional<std::string> gunzip(std::string_view in, std::string* error) {
  z_stream z{};
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) return std::nullopt;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  std::string out;
  char buf[65536];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) break;
    out.append(buf, sizeof buf - z.avail_out);
    if (out.size() > kMaxModuleBytes + (1u << 20)) {
      rc = Z_MEM_ERROR;
      break;
    }
  }
  inflateEnd(&z);
  if (rc != Z_STREAM_END) {
    *error = "the layer is not a valid gzip stream (or larger than 256 MiB)";
    return std::nullopt;
  }
  return out;
}

// The file whose base name is plugin.wasm in a ustar archive.
std::optional<std::string> pluginFromTar(std::string_view tar, std::string* error) {
  size_t pos = 0;
  while (pos + 512 <= tar.size()) {
    std::string_view header = tar.substr(pos, 512);
    if (header[0] == '\0') break;  // end of archive
    std::string name(header.substr(0, 100).data(), strnlen(header.data(), 100));
    std::string prefix(header.substr(345, 155).data(), strnlen(header.data() + 345, 155));
    if (!prefix.empty()) name = prefix + "/" + name;
    const size_t size = std::strtoull(std::string(header.substr(124, 12)).c_str(), nullptr, 8);
    const char type = header[156];
    pos += 512;
    if (pos + size > tar.size()) break;
    const std::string base =
        name.substr(name.rfind('/') == std::string::npos ? 0 : name.rfind('/') + 1);
    if ((type == '0' || type == '\0') && base == "plugin.wasm") {
      return std::string(tar.substr(pos, size));
    }
    pos += (size + 511) / 512 * 512;
  }
  *error = "no plugin.wasm in the image layer";
  return std::nullopt;
}

struct OciRef {
  std::string host, repo, reference;  // reference: a tag or sha256:...
};

std::optional<OciRef> parseOci(std::string_view url) {
  std::string_view rest = url.substr(6);  // oci://
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0) return std::nullopt;
  OciRef r{std::string(rest.substr(0, slash)), std::string(rest.substr(slash + 1)), "latest"};
  if (size_t at = r.repo.find('@'); at != std::string::npos) {
    r.reference = r.repo.substr(at + 1);
    r.repo.resize(at);
  } else if (size_t colon = r.repo.rfind(':');
             colon != std::string::npos && r.repo.find('/', colon) == std::string::npos) {
    r.reference = r.repo.substr(colon + 1);
    r.repo.resize(colon);
  }
  if (r.repo.empty() || r.reference.empty()) return std::nullopt;
  return r;
}

std::optional<FetchedModule> fetchOci(const std::string& url, const std::string& want,
                                      std::string* error) {
  auto ref = parseOci(url);
  if (!ref) {
    *error = "expected oci://REGISTRY/REPOSITORY[:TAG|@sha256:DIGEST]";
    return std::nullopt;
  }
  const std::string base =
      (insecure(ref->host) ? "http://" : "https://") + ref->host + "/v2/" + ref->repo;
  const std::string manifest_url = base + "/manifests/" + ref->reference;
  FetchResponse m = get(manifest_url,
                        "application/vnd.oci.image.manifest.v1+json, "
                        "application/vnd.docker.distribution.manifest.v2+json");
  if (m.status != 200) {
    *error = m.describe(manifest_url);
    return std::nullopt;
  }
  FetchedModule out;
  out.digest = "sha256:" + sha256Hex(m.body);
  if (!want.empty() && out.digest != "sha256:" + want) {
    *error = "the image manifest has digest " + out.digest + ", sha256 asks for sha256:" + want;
    return std::nullopt;
  }
  const nlohmann::json manifest = nlohmann::json::parse(m.body, nullptr, false);
  if (!manifest.is_object() || !manifest.contains("layers") || !manifest["layers"].is_array() ||
      manifest["layers"].empty()) {
    *error = "the image manifest has no layers (an index? pin a single-platform image)";
    return std::nullopt;
  }
  const auto& layers = manifest["layers"];
  auto mediaType = [](const nlohmann::json& l) { return l.value("mediaType", std::string()); };
  const nlohmann::json* chosen = &layers.back();
  bool raw = false;
  for (const auto& l : layers) {
    if (mediaType(l) == "application/vnd.module.wasm.content.layer.v1+wasm") {
      if (layers.size() != 2) {
        *error = "an OCI Wasm artifact must have exactly 2 layers";
        return std::nullopt;
      }
      chosen = &l;
      raw = true;
    }
  }
  const std::string digest = chosen->value("digest", std::string());
  const std::string blob_url = base + "/blobs/" + digest;
  FetchResponse b = get(blob_url);
  if (b.status != 200) {
    *error = b.describe(blob_url);
    return std::nullopt;
  }
  if ("sha256:" + sha256Hex(b.body) != digest) {
    *error = "layer " + digest + " does not match its digest";
    return std::nullopt;
  }
  if (raw) {
    out.bytes = std::move(b.body);
  } else {
    auto tar = gunzip(b.body, error);
    if (!tar) return std::nullopt;
    auto module = pluginFromTar(*tar, error);
    if (!module) return std::nullopt;
    out.bytes = std::move(*module);
  }
  return out;
}

}  // namespace

std::optional<FetchedModule> fetchModule(const FetchRequest& request, std::string* error) {
  const std::string& url = request.url;
  const std::string key = sha256Hex(url + "\n" + request.sha256);
  const std::filesystem::path cached = request.cache_dir.empty()
                                           ? std::filesystem::path()
                                           : std::filesystem::path(request.cache_dir) / key;
  if (!request.always_pull && !cached.empty()) {
    auto bytes = config_yaml::readFile(cached.string() + ".wasm");
    auto digest = config_yaml::readFile(cached.string() + ".digest");
    if (bytes && digest) return FetchedModule{std::move(*bytes), std::move(*digest), true};
  }
  std::optional<FetchedModule> out;
  if (url.rfind("oci://", 0) == 0) {
    out = fetchOci(url, request.sha256, error);
  } else if (url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0) {
    FetchResponse r = get(url);
    if (r.status != 200) {
      *error = r.describe(url);
    } else {
      out = FetchedModule{std::move(r.body), "", false};
    }
  } else if (url.rfind("file://", 0) == 0) {
    auto bytes = config_yaml::readFile(url.substr(7));
    if (!bytes) {
      *error = "cannot read " + url.substr(7);
    } else {
      out = FetchedModule{std::move(*bytes), "", false};
    }
  } else {
    *error = "unsupported URL scheme (oci://, http://, https://, file://)";
  }
  if (!out) return std::nullopt;
  if (out->digest.empty()) {
    out->digest = "sha256:" + sha256Hex(out->bytes);
    if (!request.sha256.empty() && out->digest != "sha256:" + request.sha256) {
      *error =
          "the module has digest " + out->digest + ", sha256 asks for sha256:" + request.sha256;
      return std::nullopt;
    }
  }
  if (out->bytes.size() > kMaxModuleBytes ||
      out->bytes.compare(0, 4, std::string("\0asm", 4)) != 0) {
    *error = "not a Wasm module (no \\0asm magic) or larger than 256 MiB";
    return std::nullopt;
  }
  if (!cached.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(request.cache_dir, ec);
    // Written aside and renamed: a reader never sees half a module.
    for (auto [suffix, data] :
         {std::pair{".wasm", &out->bytes}, std::pair{".digest", &out->digest}}) {
      const std::string final_path = cached.string() + suffix;
      std::ofstream(final_path + ".tmp", std::ios::binary) << *data;
      std::filesystem::rename(final_path + ".tmp", final_path, ec);
    }
  }
  return out;
}

}  // namespace wasm_proxy::istio

#include "proxy_wasm/host/module_info.h"

#include <openssl/evp.h>

namespace proxy_wasm::host {
namespace {

// A bounds-checked reader over the module bytes.
class Reader {
 public:
  Reader(const std::string& b, size_t pos, size_t end) : b_(b), pos_(pos), end_(end) {}
  bool ok() const { return ok_; }
  size_t pos() const { return pos_; }
  bool atEnd() const { return pos_ >= end_; }
  uint8_t byte() {
    if (pos_ >= end_) return fail();
    return static_cast<uint8_t>(b_[pos_++]);
  }
  uint64_t leb() {
    uint64_t result = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      uint8_t v = byte();
      if (!ok_) return 0;
      result |= uint64_t{v & 0x7fu} << shift;
      if ((v & 0x80) == 0) return result;
    }
    return fail();
  }
  std::string name() {
    uint64_t n = leb();
    if (!ok_ || n > end_ - pos_) return fail(), std::string();
    std::string s = b_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  void skip(uint64_t n) {
    if (n > end_ - pos_)
      fail();
    else
      pos_ += n;
  }
  uint8_t fail() {
    ok_ = false;
    pos_ = end_;
    return 0;
  }

 private:
  const std::string& b_;
  size_t pos_, end_;
  bool ok_ = true;
};

void skipLimits(Reader& r) {
  uint64_t flags = r.leb();
  r.leb();
  if (flags & 1) r.leb();
}

void appendLeb(std::string& out, uint64_t v) {
  do {
    uint8_t b = v & 0x7f;
    v >>= 7;
    if (v != 0) b |= 0x80;
    out.push_back(static_cast<char>(b));
  } while (v != 0);
}

constexpr uint8_t kSectionCustom = 0, kSectionType = 1, kSectionImport = 2, kSectionFunction = 3,
                  kSectionMemory = 5, kSectionExport = 7;

}  // namespace

std::string sha256Hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}

std::string_view toString(AbiVersion v) {
  switch (v) {
    case AbiVersion::V0_1_0:
      return "0.1.0";
    case AbiVersion::V0_2_0:
      return "0.2.0";
    case AbiVersion::V0_2_1:
      return "0.2.1";
    case AbiVersion::Unknown:
      break;
  }
  return "unknown";
}

const ModuleExport* ModuleInfo::findExport(std::string_view name) const {
  for (const auto& e : exports) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

namespace {

// The sections the host reads, one reader each, filling one ModuleInfo.
struct SectionParser {
  ModuleInfo info;
  std::vector<FuncType> types;
  std::vector<uint32_t> func_types;  // type index per function (imports first)

  void section(uint8_t id, Reader& r) {
    switch (id) {
      case kSectionType:
        return typeSection(r);
      case kSectionImport:
        return importSection(r);
      case kSectionFunction: {
        uint64_t n = r.leb();
        for (uint64_t i = 0; i < n && r.ok(); ++i)
          func_types.push_back(static_cast<uint32_t>(r.leb()));
        return;
      }
      case kSectionMemory:
        if (r.leb() > 0) memory(r);
        return;
      case kSectionExport:
        return exportSection(r);
      case kSectionCustom:
        if (r.name() == "name") nameSection(r);
        return;
      default:
        return;
    }
  }

  void typeSection(Reader& r) {
    uint64_t n = r.leb();
    for (uint64_t i = 0; i < n && r.ok(); ++i) {
      if (r.byte() != 0x60) r.fail();
      FuncType t;
      uint64_t np = r.leb();
      for (uint64_t k = 0; k < np && r.ok(); ++k) t.params.push_back(ValType(r.byte()));
      uint64_t nr = r.leb();
      for (uint64_t k = 0; k < nr && r.ok(); ++k) t.results.push_back(ValType(r.byte()));
      types.push_back(std::move(t));
    }
  }

  void importSection(Reader& r) {
    uint64_t n = r.leb();
    for (uint64_t i = 0; i < n && r.ok(); ++i) {
      ModuleImport imp;
      imp.module = r.name();
      imp.name = r.name();
      imp.kind = r.byte();
      switch (imp.kind) {
        case 0: {  // function
          uint64_t t = r.leb();
          if (t >= types.size())
            r.fail();
          else
            imp.type = types[t];
          func_types.push_back(static_cast<uint32_t>(t));
          break;
        }
        case 1:  // table
          r.byte();
          skipLimits(r);
          break;
        case 2:
          memory(r);
          break;
        case 3:  // global
          r.byte();
          r.byte();
          break;
        default:
          r.byte();
          r.leb();
          break;
      }
      info.imports.push_back(std::move(imp));
    }
  }

  void memory(Reader& r) {
    uint64_t flags = r.leb();
    info.has_memory = true;
    info.memory_initial_pages = r.leb();
    if (flags & 1) info.memory_max_pages = r.leb();
  }

  void exportSection(Reader& r) {
    uint64_t n = r.leb();
    for (uint64_t i = 0; i < n && r.ok(); ++i) {
      ModuleExport e;
      e.name = r.name();
      e.kind = r.byte();
      e.index = static_cast<uint32_t>(r.leb());
      info.exports.push_back(std::move(e));
    }
  }

  // The function names subsection; the others are skipped.
  void nameSection(Reader& r) {
    while (!r.atEnd() && r.ok()) {
      uint8_t sub = r.byte();
      uint64_t sub_size = r.leb();
      if (sub != 1) {
        r.skip(sub_size);
        continue;
      }
      uint64_t count = r.leb();
      for (uint64_t k = 0; k < count && r.ok(); ++k) {
        uint32_t index = static_cast<uint32_t>(r.leb());
        info.function_names[index] = r.name();
      }
    }
  }

  // Export types and the ABI version, once every section is read.
  void finish() {
    for (auto& e : info.exports) {
      if (e.kind != 0) continue;
      if (e.index < func_types.size() && func_types[e.index] < types.size()) {
        e.type = types[func_types[e.index]];
      }
      if (e.name == "proxy_abi_version_0_2_1")
        info.abi = AbiVersion::V0_2_1;
      else if (e.name == "proxy_abi_version_0_2_0" && info.abi == AbiVersion::Unknown)
        info.abi = AbiVersion::V0_2_0;
      else if (e.name == "proxy_abi_version_0_1_0" && info.abi == AbiVersion::Unknown)
        info.abi = AbiVersion::V0_1_0;
    }
  }
};

}  // namespace

std::optional<ModuleInfo> parseModule(const std::string& bytes, std::string* error) {
  if (bytes.size() < 8 || bytes.compare(0, 4, std::string("\0asm", 4)) != 0) {
    *error = "not a WebAssembly module (bad magic)";
    return std::nullopt;
  }
  SectionParser parser;
  Reader top(bytes, 8, bytes.size());
  while (!top.atEnd() && top.ok()) {
    uint8_t id = top.byte();
    uint64_t size = top.leb();
    size_t start = top.pos();
    if (!top.ok() || size > bytes.size() - start) break;
    Reader r(bytes, start, start + size);
    parser.section(id, r);
    if (!r.ok()) {
      *error = "malformed section " + std::to_string(id);
      return std::nullopt;
    }
    top.skip(size);
  }
  if (!top.ok()) {
    *error = "malformed module (truncated section)";
    return std::nullopt;
  }
  parser.finish();
  return std::move(parser.info);
}

std::optional<std::string> capMemory(const std::string& bytes, uint64_t max_pages,
                                     std::string* error) {
  Reader top(bytes, 8, bytes.size());
  while (!top.atEnd() && top.ok()) {
    size_t section_start = top.pos();
    uint8_t id = top.byte();
    uint64_t size = top.leb();
    size_t start = top.pos();
    if (!top.ok() || size > bytes.size() - start) break;
    if (id == kSectionImport) {
      Reader r(bytes, start, start + size);
      uint64_t n = r.leb();
      for (uint64_t i = 0; i < n && r.ok(); ++i) {
        r.name();
        r.name();
        uint8_t kind = r.byte();
        if (kind == 2) {
          *error = "the module imports its memory; plugins must define their own";
          return std::nullopt;
        }
        if (kind == 0)
          r.leb();
        else if (kind == 1) {
          r.byte();
          skipLimits(r);
        } else if (kind == 3) {
          r.byte();
          r.byte();
        } else {
          r.byte();
          r.leb();
        }
      }
    }
    if (id == kSectionMemory) {
      Reader r(bytes, start, start + size);
      uint64_t n = r.leb();
      if (n == 0) return bytes;
      uint64_t flags = r.leb();
      uint64_t initial = r.leb();
      std::optional<uint64_t> max;
      if (flags & 1) max = r.leb();
      if (!r.ok() || (flags & ~uint64_t{1}) != 0) {
        *error = "unsupported memory section (shared or 64-bit memory)";
        return std::nullopt;
      }
      if (initial > max_pages) {
        *error = "the module's initial memory (" + std::to_string(initial) +
                 " pages) exceeds the cap of " + std::to_string(max_pages) + " pages";
        return std::nullopt;
      }
      uint64_t new_max = max && *max < max_pages ? *max : max_pages;
      std::string body;
      appendLeb(body, n);
      body.push_back(1);
      appendLeb(body, initial);
      appendLeb(body, new_max);
      body.append(bytes, r.pos(), start + size - r.pos());  // further memories (none in MVP)
      std::string out = bytes.substr(0, section_start);
      out.push_back(static_cast<char>(kSectionMemory));
      appendLeb(out, body.size());
      out += body;
      out.append(bytes, start + size, std::string::npos);
      return out;
    }
    top.skip(size);
  }
  return bytes;
}

}  // namespace proxy_wasm::host

// The ABI table against everything that states the ABI apart from it: the host's table (every
// hostcall served, with the table's signature), the hand-written raw-ABI test header and the Zig
// scaffold's bindings (every hostcall they declare, with the table's value types), and the
// imports and exports of every plugin the build made.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "hostcall_env.h"
#include "plugin_harness.h"
#include "proxy_wasm/host/module_info.h"

namespace proxy_wasm::host {
namespace {

// "iiI" for (i32, i32, i64): the table's value types as letters.
std::string letters(const std::vector<ValType>& types) {
  std::string out;
  for (ValType t : types) out += t == ValType::I64 ? 'I' : 'i';
  return out;
}

std::map<std::string, std::string> tableHostcalls() {
  std::map<std::string, std::string> out;
#define PROXY_WASM_LETTERS(name, parameters) \
  out[#name] = letters(AbiKinds<abi_sig::name>::signature().params);
  PROXY_WASM_HOSTCALLS(PROXY_WASM_LETTERS, HostKinds)
#undef PROXY_WASM_LETTERS
  return out;
}

std::string readSource(const std::string& relative) {
  std::ifstream in(std::string(PWX_SOURCE_DIR) + "/" + relative);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Declarations `<anything> proxy_name(params)` found by `pattern` (group 1: name, group 2:
// parameters), each parameter a 64-bit one when it matches `wide`.
std::map<std::string, std::string> declared(const std::string& text, const std::regex& pattern,
                                            const std::regex& wide) {
  std::map<std::string, std::string> out;
  for (std::sregex_iterator it(text.begin(), text.end(), pattern), end; it != end; ++it) {
    std::string sig;
    std::stringstream params((*it)[2].str());
    for (std::string p; std::getline(params, p, ',');) {
      if (p.find_first_not_of(" \n\t") == std::string::npos) continue;
      sig += std::regex_search(p, wide) ? 'I' : 'i';
    }
    out[(*it)[1].str()] = sig;
  }
  return out;
}

void expectAgreesWithTable(const std::map<std::string, std::string>& found, const char* where) {
  const auto table = tableHostcalls();
  EXPECT_FALSE(found.empty()) << where;
  for (const auto& [name, sig] : found) {
    auto it = table.find(name);
    ASSERT_NE(it, table.end()) << where << " declares " << name << ", not in the ABI table";
    EXPECT_EQ(sig, it->second) << where << ": " << name;
  }
}

TEST(AbiTable, TheHostServesEveryHostcallWithTheTablesSignature) {
  const auto table = tableHostcalls();
  EXPECT_EQ(table.size(), abiHostcallNames().size());
  for (std::string_view name : abiHostcallNames()) {
    const HostcallDef* def = findHostcall("env", name);
    ASSERT_NE(def, nullptr) << name;
    EXPECT_EQ(letters(def->type.params), table.at(std::string(name))) << name;
    EXPECT_EQ(def->type.results, std::vector<ValType>{ValType::I32}) << name;
  }
}

TEST(AbiTable, TheRawAbiTestHeaderAgrees) {
  expectAgreesWithTable(
      declared(readSource("test/plugins/raw_abi.h"),
               std::regex(R"(int32_t\s+(proxy_\w+)\(([^)]*)\);)"), std::regex("int64_t")),
      "test/plugins/raw_abi.h");
}

TEST(AbiTable, TheZigBindingsAgree) {
  expectAgreesWithTable(
      declared(readSource("extensions/zig_scaffold/proxy_wasm.zig"),
               std::regex(R"(extern "env" fn (proxy_\w+)\(([^)]*)\))"), std::regex(":\\s*[ui]64")),
      "extensions/zig_scaffold/proxy_wasm.zig");
}

// What the build made: every proxy-wasm import and callback export has the table's type (but for
// the hostile module whose import is wrong on purpose, which the host must refuse).
TEST(AbiTable, EveryBuiltPluginImportsAndExportsTheTablesTypes) {
  const auto table = tableHostcalls();
  int checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(
           std::filesystem::path(testing::pluginPath("scaffold")).parent_path())) {
    if (entry.path().extension() != ".wasm") continue;
    if (entry.path().stem() == "hostile_bad_import") continue;  // a wrong type, on purpose
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), {});
    std::string error;
    auto info = parseModule(bytes, &error);
    ASSERT_TRUE(info) << entry.path() << ": " << error;
    for (const ModuleImport& imp : info->imports) {
      if (imp.module != "env" || !table.contains(imp.name)) continue;
      EXPECT_EQ(letters(imp.type.params), table.at(imp.name)) << entry.path() << " " << imp.name;
      ++checked;
    }
    for (const ModuleExport& exp : info->exports) {
      auto type = abiCallbackType(exp.name);
      if (!type || exp.kind != 0) continue;
      EXPECT_EQ(exp.type, *type) << entry.path() << " " << exp.name;
      ++checked;
    }
  }
  EXPECT_GT(checked, 100);
}

}  // namespace
}  // namespace proxy_wasm::host

// Test support for integration tests: real processes on real sockets.
//   Process       fork/exec with output captured to a log file (printed when a test fails)
//   EchoUpstream  the echo-upstream server on a free port
//   ProxyProcess  wasm-proxy on a config template, started and waited for on /ready
//   httpRequest   a real HTTP/1.1 client (Boost.Beast); rawExchange for malformed bytes
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace pwx_test {

class Process {
 public:
  Process(std::vector<std::string> argv, std::string log_path);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  int pid() const { return pid_; }
  void signal(int sig);
  // Waits for exit; returns the exit code, or -1 on timeout (or -signal when killed).
  int wait(std::chrono::milliseconds timeout);
  bool running();
  std::string log() const;
  // Prints the log to stderr if the current test failed.
  void dumpLogIfFailed() const;

 private:
  int pid_ = -1;
  int status_ = 0;
  bool exited_ = false;
  std::string log_path_;
};

uint16_t freePort();
std::string tempDir();
std::string pluginDir();
// The wasm-proxy the tests run: $PWX_WASM_PROXY (a sanitizer build, say), else this build's.
std::string wasmProxyBin();
std::string readFile(const std::string& path);
void writeFile(const std::string& path, const std::string& content);
bool waitForPort(uint16_t port, std::chrono::milliseconds timeout);

struct Response {
  int status = 0;                              // 0: no response (connection error)
  std::map<std::string, std::string> headers;  // lower-cased names
  std::string body;
  std::string error;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

Response httpRequest(uint16_t port, const std::string& method, const std::string& target,
                     const std::vector<std::pair<std::string, std::string>>& headers = {},
                     const std::string& body = "",
                     std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));
// Sends raw bytes and returns everything the server sent until it closed or the timeout.
std::string rawExchange(uint16_t port, const std::string& bytes,
                        std::chrono::milliseconds timeout = std::chrono::milliseconds(3000));

class EchoUpstream {
 public:
  // `files_dir`: GET /files/NAME answers with that folder's file NAME (e.g. a JWKS).
  explicit EchoUpstream(const std::string& files_dir = "");
  uint16_t port() const { return port_; }

 private:
  uint16_t port_;
  Process process_;
};

class ProxyProcess {
 public:
  // `config` may contain {{LISTEN_PORT}}, {{ADMIN_PORT}}, {{UPSTREAM_PORT}}, {{PLUGIN_DIR}} and
  // any extra {{KEY}} from `vars`.
  // `extra_args` go after the proxy's usual arguments (e.g. --wasm-plugin FILE).
  ProxyProcess(const std::string& config, uint16_t upstream_port, int concurrency = 2,
               std::map<std::string, std::string> vars = {},
               const std::vector<std::string>& extra_args = {});
  ~ProxyProcess();
  bool ready() const { return ready_; }
  uint16_t port() const { return port_; }
  uint16_t adminPort() const { return admin_port_; }
  Process& process() { return *process_; }
  const std::string& configPath() const { return config_path_; }
  std::string render(std::string config) const;

 private:
  // Starts the proxy on new ports and waits for it to be ready; false if it did not get there.
  bool start(const std::string& config, int concurrency,
             const std::vector<std::string>& extra_args);

  uint16_t port_ = 0, admin_port_ = 0, upstream_port_;
  std::map<std::string, std::string> vars_;
  std::string config_path_;
  std::unique_ptr<Process> process_;
  bool ready_ = false;
};

// A bootstrap with one listener ({{LISTEN_PORT}}, admin {{ADMIN_PORT}}): the wasm filter `plugin`
// (`<plugin>.wasm` from the plugin folder, on V8) configured with `configuration` (a JSON string),
// then the router to cluster "upstream" ({{UPSTREAM_PORT}}). `extra_clusters` (YAML list items)
// and `node` (YAML value of node:) are appended when given.
std::string singlePluginConfig(const std::string& plugin, const std::string& configuration,
                               const std::string& extra_clusters = "",
                               const std::string& node = "");

// The value of metric `name` in a /stats/prometheus text, or -1 when it is not listed.
long prometheusValue(const std::string& prom, const std::string& name);

// Runs wasm-proxy once and returns (exit code, output), e.g. for configs that must be refused.
std::pair<int, std::string> runProxyExpectingExit(const std::string& config,
                                                  const std::vector<std::string>& extra_args = {});

}  // namespace pwx_test

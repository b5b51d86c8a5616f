#include "test_support.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <thread>

namespace pwx_test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

Process::Process(std::vector<std::string> argv, std::string log_path)
    : log_path_(std::move(log_path)) {
  pid_ = fork();
  if (pid_ == 0) {
    int fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    execv(args[0], args.data());
    std::perror("execv");
    _exit(127);
  }
}

Process::~Process() {
  if (!exited_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    wait(std::chrono::milliseconds(5000));
  }
}

void Process::signal(int sig) {
  if (!exited_) ::kill(pid_, sig);
}

bool Process::running() {
  if (exited_) return false;
  int st;
  if (waitpid(pid_, &st, WNOHANG) == pid_) {
    exited_ = true;
    status_ = st;
    return false;
  }
  return true;
}

int Process::wait(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() > deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (WIFEXITED(status_)) return WEXITSTATUS(status_);
  return -WTERMSIG(status_);
}

std::string Process::log() const {
  return readFile(log_path_);
}

void Process::dumpLogIfFailed() const {
  if (::testing::Test::HasFailure()) {
    std::cerr << "---- " << log_path_ << " ----\n" << log() << "---- end ----\n";
  }
}

uint16_t freePort() {
  asio::io_context io;
  tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

std::string tempDir() {
  static std::string dir = [] {
    std::string t = std::filesystem::temp_directory_path().string() + "/pwx-test-XXXXXX";
    return std::string(mkdtemp(t.data()));
  }();
  return dir;
}

std::string pluginDir() {
  const char* d = std::getenv("PWX_PLUGIN_DIR");
  return d != nullptr ? d : PWX_DEFAULT_PLUGIN_DIR;
}

std::string wasmProxyBin() {
  const char* bin =
      std::getenv("PWX_WASM_PROXY");  // another build of it (scripts/test-sanitized.sh)
  return bin != nullptr ? bin : PWX_WASM_PROXY_BIN;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void writeFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

bool waitForPort(uint16_t port, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    asio::io_context io;
    tcp::socket s(io);
    boost::system::error_code ec;
    s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
    if (!ec) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

// Both clients use asynchronous operations: Beast's stream timeouts only apply to those.
Response httpRequest(uint16_t port, const std::string& method, const std::string& target,
                     const std::vector<std::pair<std::string, std::string>>& headers,
                     const std::string& body, std::chrono::milliseconds timeout) {
  Response out;
  asio::io_context io;
  beast::tcp_stream stream(io);
  beast::flat_buffer buf;
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, "localhost");
  for (auto& [k, v] : headers) {
    if (beast::iequals(k, "host")) {
      req.set(http::field::host, v);
    } else {
      req.insert(k, v);
    }
  }
  req.body() = body;
  req.prepare_payload();
  req.keep_alive(false);
  http::response<http::string_body> res;
  stream.expires_after(timeout);
  auto fail = [&](boost::system::error_code ec) { out.error = ec.message(); };
  stream.async_connect(
      tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), [&](boost::system::error_code ec) {
        if (ec) return fail(ec);
        http::async_write(stream, req, [&](boost::system::error_code ec, size_t) {
          if (ec) return fail(ec);
          http::async_read(stream, buf, res, [&](boost::system::error_code ec, size_t) {
            if (ec) return fail(ec);
            out.status = res.result_int();
            for (auto& f : res) {
              std::string name(f.name_string());
              for (char& c : name)
                c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
              out.headers[name] = std::string(f.value());
            }
            out.body = res.body();
          });
        });
      });
  io.run();
  return out;
}

std::string rawExchange(uint16_t port, const std::string& bytes,
                        std::chrono::milliseconds timeout) {
  asio::io_context io;
  beast::tcp_stream stream(io);
  stream.expires_after(timeout);
  std::string got;
  std::array<char, 4096> buf;
  std::function<void(boost::system::error_code, size_t)> on_read = [&](boost::system::error_code ec,
                                                                       size_t n) {
    if (ec) return;
    got.append(buf.data(), n);
    stream.async_read_some(asio::buffer(buf), on_read);
  };
  stream.async_connect(
      tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), [&](boost::system::error_code ec) {
        if (ec) return;
        asio::async_write(stream, asio::buffer(bytes), [&](boost::system::error_code ec, size_t) {
          if (ec) return;
          stream.async_read_some(asio::buffer(buf), on_read);
        });
      });
  io.run();
  return got;
}

namespace {
std::vector<std::string> echoArgs(uint16_t port, const std::string& files_dir) {
  std::vector<std::string> args{PWX_ECHO_UPSTREAM_BIN, "--port", std::to_string(port)};
  if (!files_dir.empty()) {
    args.push_back("--files");
    args.push_back(files_dir);
  }
  return args;
}

// The port the echo upstream printed once it listened on port 0, or 0 if it never did.
uint16_t listeningPort(Process& process, std::chrono::milliseconds timeout) {
  const std::string_view marker = "echo-upstream listening on ";
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  do {
    const std::string log = process.log();
    const size_t at = log.find(marker);
    const size_t colon = at == std::string::npos ? at : log.find(':', at + marker.size());
    if (colon != std::string::npos && log.find('\n', colon) != std::string::npos) {
      return static_cast<uint16_t>(std::stoul(log.substr(colon + 1)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  } while (process.running() && std::chrono::steady_clock::now() < deadline);
  return 0;
}

std::string echoLogPath() {
  static std::atomic<int> n{0};
  return tempDir() + "/echo-" + std::to_string(::getpid()) + "-" + std::to_string(++n) + ".log";
}
}  // namespace

// The upstream binds port 0 and says which port it got: a port chosen here and bound there could
// be taken in between by another test running in parallel, which would then be the "upstream".
EchoUpstream::EchoUpstream(const std::string& files_dir)
    : port_(0), process_(echoArgs(0, files_dir), echoLogPath()) {
  port_ = listeningPort(process_, std::chrono::seconds(10));
}

ProxyProcess::ProxyProcess(const std::string& config, uint16_t upstream_port, int concurrency,
                           std::map<std::string, std::string> vars,
                           const std::vector<std::string>& extra_args)
    : upstream_port_(upstream_port), vars_(std::move(vars)) {
  // freePort() can hand the same port to two tests running in parallel before either binds it:
  // a proxy that finds its port taken is started again on new ports.
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (start(config, concurrency, extra_args)) return;
    if (process_->running() ||
        process_->log().find("Address already in use") == std::string::npos) {
      return;
    }
  }
}

bool ProxyProcess::start(const std::string& config, int concurrency,
                         const std::vector<std::string>& extra_args) {
  port_ = freePort();
  admin_port_ = freePort();
  config_path_ = tempDir() + "/envoy-" + std::to_string(port_) + ".yaml";
  writeFile(config_path_, render(config));
  std::vector<std::string> argv{
      wasmProxyBin(), "-c",  config_path_, "--concurrency", std::to_string(concurrency),
      "-l",           "info"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  process_ =
      std::make_unique<Process>(argv, tempDir() + "/proxy-" + std::to_string(port_) + ".log");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline && process_->running()) {
    if (httpRequest(admin_port_, "GET", "/ready", {}, "", std::chrono::milliseconds(500)).status ==
        200) {
      ready_ = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return ready_;
}

ProxyProcess::~ProxyProcess() {
  process_->dumpLogIfFailed();
}

std::string ProxyProcess::render(std::string config) const {
  std::map<std::string, std::string> all = vars_;
  all["LISTEN_PORT"] = std::to_string(port_);
  all["ADMIN_PORT"] = std::to_string(admin_port_);
  all["UPSTREAM_PORT"] = std::to_string(upstream_port_);
  all["PLUGIN_DIR"] = pluginDir();
  for (auto& [k, v] : all) {
    std::string key = "{{" + k + "}}";
    for (size_t pos; (pos = config.find(key)) != std::string::npos;)
      config.replace(pos, key.size(), v);
  }
  return config;
}

std::string singlePluginConfig(const std::string& plugin, const std::string& configuration,
                               const std::string& extra_clusters, const std::string& node) {
  std::string escaped;
  for (char c : configuration) escaped += c == '\'' ? std::string("''") : std::string(1, c);
  return (node.empty() ? "" : "node: " + node + "\n") + R"(
admin: { address: { socket_address: { address: 127.0.0.1, port_value: {{ADMIN_PORT}} } } }
static_resources:
  listeners:
  - name: main
    address: { socket_address: { address: 127.0.0.1, port_value: {{LISTEN_PORT}} } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: inbound
          route_config: { virtual_hosts: [{ name: all, domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: upstream } }] }] }
          http_filters:
          - name: envoy.filters.http.wasm
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config:
                name: )" +
         plugin + R"(
                vm_config: { vm_id: )" +
         plugin +
         R"(, runtime: envoy.wasm.runtime.v8, code: { local: { filename: "{{PLUGIN_DIR}}/)" +
         plugin + R"(.wasm" } } }
                configuration:
                  "@type": type.googleapis.com/google.protobuf.StringValue
                  value: ')" +
         escaped + R"('
          - name: envoy.filters.http.router
  clusters:
  - name: upstream
    connect_timeout: 1s
    load_assignment: { cluster_name: upstream, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: {{UPSTREAM_PORT}} } } } }] }] }
)" + extra_clusters;
}

long prometheusValue(const std::string& prom, const std::string& name) {
  auto at = prom.find("\n" + name + " ");
  return at == std::string::npos ? -1 : std::stol(prom.substr(at + name.size() + 2));
}

std::pair<int, std::string> runProxyExpectingExit(const std::string& config,
                                                  const std::vector<std::string>& extra_args) {
  static int n = 0;
  std::string path = tempDir() + "/refused-" + std::to_string(++n) + ".yaml";
  // Placeholders: the plugin folder, and fresh ports for everything else.
  std::string rendered = config;
  for (size_t pos; (pos = rendered.find("{{")) != std::string::npos;) {
    size_t end = rendered.find("}}", pos);
    std::string key = rendered.substr(pos + 2, end - pos - 2);
    rendered.replace(pos, end - pos + 2,
                     key == "PLUGIN_DIR" ? pluginDir() : std::to_string(freePort()));
  }
  writeFile(path, rendered);
  std::vector<std::string> argv{wasmProxyBin(), "-c", path, "--concurrency", "1"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  Process p(argv, path + ".log");
  int code = p.wait(std::chrono::seconds(30));
  return {code, p.log()};
}

}  // namespace pwx_test

// wasm-proxy: an HTTP proxy that runs proxy-wasm plugins from Envoy's bootstrap YAML.
//
//   wasm-proxy -c envoy.yaml [--concurrency N] [-l info] [--drain-time-s 5] [--mode validate]
//              [--wasm-runtime v8|wabt|wasm2c] [--wasm-cache-dir DIR]
//   wasm-proxy compile plugin.wasm [-o plugin.wasm2c.so]
//
// Signals: SIGTERM/SIGINT drain in-flight requests and exit 0; SIGHUP reloads the config file
// (a bad new config is rejected and the old one keeps serving).
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "config.h"
#include "istio/wasm_plugin.h"
#include "proxy_wasm/host/engine.h"
#include "proxy_wasm/host/plugin.h"
#include "proxy_wasm/host/shared_state.h"
#include "proxy_wasm/host/wasm2c_build.h"
#include "worker.h"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using namespace wasm_proxy;

namespace {

struct Server {
  std::string config_path;
  std::vector<std::string> wasm_plugins;  // Istio WasmPlugin manifests (--wasm-plugin)
  istio::WasmPluginOptions wasm_plugin_options;

  std::string wasm_runtime;  // --wasm-runtime: every plugin's runtime, whatever its config says

  // The bootstrap with the WasmPlugins inserted, or null with `error`.
  std::shared_ptr<Bootstrap> load(std::string* error) {
    auto b = loadBootstrap(config_path, error);
    if (b && !istio::applyWasmPlugins(*b, wasm_plugins, wasm_plugin_options, error)) return nullptr;
    if (b && !wasm_runtime.empty()) {
      for (auto& listener : b->listeners) {
        for (auto& filter : listener.filters) {
          if (filter.wasm) filter.wasm->vm.runtime = wasm_runtime;
        }
      }
    }
    return b;
  }
  std::shared_ptr<const Bootstrap> config;
  std::vector<std::unique_ptr<Worker>> workers;
  asio::io_context main_io;
  std::atomic<bool> draining{false};
  int drain_time_s = 5;

  bool sameListeners(const Bootstrap& a, const Bootstrap& b) {
    if (a.listeners.size() != b.listeners.size()) return false;
    for (size_t i = 0; i < a.listeners.size(); ++i) {
      if (a.listeners[i].address.toString() != b.listeners[i].address.toString()) return false;
    }
    return true;
  }

  // Reload: parse, then start the new config on every worker, and switch only when all of them
  // could: a config whose plugins fail on any worker is rejected before any worker switches.
  // Returns an error or "".
  std::string reload() {
    std::string error;
    auto next = load(&error);
    if (!next) return error;
    if (!sameListeners(*config, *next)) {
      return config_path + ": listener addresses cannot change on reload; restart instead";
    }
    for (auto& w : workers) {
      if (!w->prepareConfig(next, &error)) {
        for (auto& v : workers) v->abandonConfig();
        return error;
      }
    }
    for (auto& w : workers) w->commitConfig();
    config = next;
    return "";
  }

  void drainAndStop() {
    if (draining.exchange(true)) return;
    spdlog::info("draining: finishing in-flight requests (at most {} s)", drain_time_s);
    for (auto& w : workers) w->drain();
    std::thread([this] {
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(drain_time_s);
      // Each worker stops by itself once its requests are done and its plugins have flushed
      // (a plugin whose on_done returned false, such as an access logger, until proxy_done).
      for (auto& w : workers) {
        while (!w->drained() && std::chrono::steady_clock::now() < deadline) {
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      for (auto& w : workers) w->stop();
      asio::post(main_io, [this] { main_io.stop(); });
    }).detach();
  }

  std::string configDump() const {
    std::string out = "{\n  \"source\": \"" + config->source + "\",\n  \"listeners\": [";
    for (size_t i = 0; i < config->listeners.size(); ++i) {
      const auto& l = config->listeners[i];
      out += (i ? ", " : "") + std::string("{\"name\": \"") + l.name + "\", \"address\": \"" +
             l.address.toString() + "\", \"http_filters\": [";
      for (size_t k = 0; k < l.filters.size(); ++k) {
        const auto& f = l.filters[k];
        out += (k ? ", " : "") + std::string("{\"name\": \"") + f.name + "\"";
        if (f.wasm) {
          out += ", \"plugin\": \"" + f.wasm->plugin->name + "\", \"root_id\": \"" +
                 f.wasm->plugin->root_id + "\", \"vm_id\": \"" + f.wasm->vm.vm_id +
                 "\", \"runtime\": \"" + f.wasm->vm.runtime + "\"";
        }
        out += "}";
      }
      out += "]}";
    }
    out += "],\n  \"clusters\": [";
    bool first = true;
    for (const auto& [name, c] : config->clusters) {
      out += (first ? "" : ", ") + std::string("{\"name\": \"") + name + "\", \"endpoints\": [";
      for (size_t k = 0; k < c.endpoints.size(); ++k) {
        out += (k ? ", \"" : "\"") + c.endpoints[k].toString() + "\"";
      }
      out += "]}";
      first = false;
    }
    return out + "]\n}\n";
  }
};

asio::awaitable<void> adminSession(Server& server, tcp::socket socket) {
  beast::flat_buffer buf;
  for (;;) {
    http::request<http::string_body> req;
    auto [ec, n] = co_await http::async_read(socket, buf, req, asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    http::response<http::string_body> res{http::status::ok, req.version()};
    res.set(http::field::content_type, "text/plain; charset=UTF-8");
    std::string target(req.target());
    std::string path = target.substr(0, target.find('?'));
    std::string query =
        target.find('?') == std::string::npos ? "" : target.substr(target.find('?') + 1);
    auto& registry = proxy_wasm::host::MetricsRegistry::instance();
    if (path == "/ready") {
      if (server.draining) {
        res.result(http::status::service_unavailable);
        res.body() = "DRAINING\n";
      } else {
        res.body() = "LIVE\n";
      }
    } else if (path == "/stats") {
      res.body() = registry.renderEnvoyText();
    } else if (path == "/stats/prometheus") {
      res.set(http::field::content_type, "text/plain; version=0.0.4");
      res.body() = registry.renderPrometheus();
    } else if (path == "/config_dump") {
      res.set(http::field::content_type, "application/json");
      res.body() = server.configDump();
    } else if (path == "/logging") {
      if (req.method() == http::verb::post && query.rfind("level=", 0) == 0) {
        auto level = spdlog::level::from_str(query.substr(6));
        if (level == spdlog::level::off && query.substr(6) != "off") {
          res.result(http::status::bad_request);
          res.body() = "unknown level " + query.substr(6) + "\n";
        } else {
          spdlog::set_level(level);
        }
      }
      if (res.body().empty()) {
        res.body() = "active loggers:\n  wasm-proxy: " +
                     std::string(spdlog::level::to_string_view(spdlog::get_level()).data()) + "\n";
      }
    } else if (path == "/quitquitquit" && req.method() == http::verb::post) {
      res.body() = "OK\n";
      asio::post(server.main_io, [&server] { server.drainAndStop(); });
    } else if (path == "/") {
      res.body() = "/ready /stats /stats/prometheus /config_dump /logging /quitquitquit\n";
    } else {
      res.result(http::status::not_found);
      res.body() = "unknown admin path " + path + "\n";
    }
    res.prepare_payload();
    auto [wec, wn] = co_await http::async_write(socket, res, asio::as_tuple(asio::use_awaitable));
    if (wec || !req.keep_alive()) co_return;
  }
}

asio::awaitable<void> adminLoop(Server& server, tcp::acceptor acceptor) {
  for (;;) {
    auto [ec, sock] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    asio::co_spawn(server.main_io, adminSession(server, std::move(sock)), asio::detached);
  }
}

}  // namespace

// `wasm-proxy compile plugin.wasm [-o out] [--memory-limit-bytes N]`: the wasm2c artefact a
// deployment ships next to its module (plugin.wasm2c.so), so no compiler runs at load time. An
// artefact already made from the same module by the same toolchain is kept.
int compileCommand(int argc, char** argv) {
  CLI::App app{"wasm-proxy compile: precompiles a plugin for the wasm2c runtime"};
  std::string wasm, out;
  uint64_t memory_limit = proxy_wasm::host::VmConfig{}.memory_limit_bytes;
  app.add_option("module", wasm, "the plugin's .wasm")->required();
  app.add_option("-o,--output", out, "the artefact (default: next to the module, .wasm2c.so)");
  app.add_option("--memory-limit-bytes", memory_limit,
                 "the memory cap the plugin will run with (default: 256 MiB, as vm_config)");
  CLI11_PARSE(app, argc, argv);
  std::chrono::duration<double> took{};
  std::string error;
  bool rebuilt = false;
  if (!proxy_wasm::host::wasm2c::precompile(wasm, out, memory_limit, true, &rebuilt, &took,
                                            &error)) {
    std::cerr << "wasm-proxy compile: " << error << "\n";
    return 1;
  }
  const std::string artefact = out.empty() ? proxy_wasm::host::wasm2c::artefactNextTo(wasm) : out;
  if (rebuilt) {
    std::cout << artefact << " compiled in " << took.count() << " s\n";
  } else {
    std::cout << artefact << " is up to date\n";
  }
  return 0;
}

void logEngineWork(std::string_view message) {
  spdlog::info("{}", message);
}

namespace {

// What the command line sets besides the Server's own fields.
struct CommandLine {
  unsigned concurrency = std::max(1u, std::thread::hardware_concurrency());
  std::string log_level = "info";
  std::string mode = "serve";  // or "validate"
  std::string wasm_cache;
};

// Fills `server` and `cli` from argv; an exit code when the process should stop there (--help,
// bad arguments), nullopt to go on.
std::optional<int> parseCommandLine(int argc, char** argv, Server& server, CommandLine& cli) {
  CLI::App app{"wasm-proxy: runs proxy-wasm plugins from an Envoy bootstrap config"};
  app.add_option("-c,--config-path", server.config_path, "Envoy v3 bootstrap (YAML or JSON)")
      ->required();
  app.add_option("--concurrency", cli.concurrency, "worker threads (default: cores)");
  app.add_option("-l,--log-level", cli.log_level, "trace, debug, info, warn, error, critical, off");
  app.add_option("--drain-time-s", server.drain_time_s,
                 "seconds to finish in-flight requests on shutdown");
  app.add_option("--wasm-plugin", server.wasm_plugins,
                 "an Istio WasmPlugin manifest to apply (repeatable; see proxy/README.md)");
  app.add_option("--wasm-cache-dir", cli.wasm_cache,
                 "where modules pulled for WasmPlugins are kept, and wasm2c artefacts in its "
                 "wasm2c/ folder (default: no module cache; artefacts in ~/.cache/wasm-proxy)");
  app.add_option("--wasm-runtime", server.wasm_runtime,
                 "run every plugin on this runtime: v8, wabt or wasm2c (Envoy's names too)")
      ->transform([](const std::string& r) {
        std::string name = proxy_wasm::host::canonicalRuntimeName(r);
        if (name.empty()) throw CLI::ValidationError("unknown Wasm runtime '" + r + "'");
        return name;
      });
  app.add_option("--mode", cli.mode,
                 "serve (default) or validate (load config and plugins, then exit)")
      ->check(CLI::IsMember({"serve", "validate"}));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (cli.concurrency == 0 || cli.mode == "validate") cli.concurrency = 1;
  return std::nullopt;
}

void setUpLogging(const CommandLine& cli, Server& server) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("wasm-proxy"));
  spdlog::set_pattern("[%Y-%m-%d %H:%M:%S.%e][%t][%l] %v");
  spdlog::set_level(spdlog::level::from_str(cli.log_level));
  proxy_wasm::host::setEngineLog(logEngineWork);
  if (!cli.wasm_cache.empty()) {
    server.wasm_plugin_options.cache_dir = cli.wasm_cache;
    proxy_wasm::host::wasm2c::setCacheDir(cli.wasm_cache + "/wasm2c");
  }
}

void stopAll(Server& server) {
  for (auto& w : server.workers) w->stop();
}

// Starts `concurrency` workers and loads the config into each; every worker switches to it only
// once all have loaded it. False (the error printed, the workers stopped) if one refused it.
bool startWorkers(Server& server, unsigned concurrency) {
  std::string error;
  for (unsigned i = 0; i < concurrency; ++i) {
    auto w = std::make_unique<Worker>(static_cast<int>(i), WorkerOptions{});
    w->start();
    const bool ok = w->prepareConfig(server.config, &error);
    server.workers.push_back(std::move(w));
    if (!ok) {
      std::cerr << "wasm-proxy: " << error << "\n";
      stopAll(server);
      return false;
    }
  }
  for (auto& w : server.workers) w->commitConfig();
  return true;
}

// Opens the workers' listeners and the admin listener; false (printed) if one cannot be opened.
bool listen(Server& server) {
  std::string error;
  for (auto& w : server.workers) {
    if (!w->listen(&error)) {
      std::cerr << "wasm-proxy: " << error << "\n";
      return false;
    }
  }
  if (!server.config->admin) return true;
  boost::system::error_code ec;
  tcp::endpoint ep(asio::ip::make_address(server.config->admin->address, ec),
                   server.config->admin->port);
  tcp::acceptor acceptor(server.main_io);
  acceptor.open(ep.protocol(), ec);
  acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    std::cerr << "wasm-proxy: admin address " << server.config->admin->toString() << ": "
              << ec.message() << "\n";
    return false;
  }
  asio::co_spawn(server.main_io, adminLoop(server, std::move(acceptor)), asio::detached);
  return true;
}

// Runs the main loop until SIGTERM or SIGINT has drained the workers; SIGHUP reloads the config.
void serveUntilStopped(Server& server, unsigned concurrency) {
  asio::signal_set stop_signals(server.main_io, SIGTERM, SIGINT);
  stop_signals.async_wait([&](boost::system::error_code ec, int) {
    if (!ec) server.drainAndStop();
  });
  asio::signal_set hup(server.main_io, SIGHUP);
  std::function<void()> wait_hup = [&] {
    hup.async_wait([&](boost::system::error_code ec, int) {
      if (ec) return;
      std::string e = server.reload();
      if (e.empty()) {
        spdlog::info("reloaded {}", server.config_path);
      } else {
        spdlog::error("reload rejected, keeping the running config: {}", e);
      }
      wait_hup();
    });
  };
  wait_hup();
  spdlog::info("wasm-proxy ready: {} listener(s), {} worker(s){}", server.config->listeners.size(),
               concurrency,
               server.config->admin ? ", admin on " + server.config->admin->toString() : "");
  auto guard = asio::make_work_guard(server.main_io);
  server.main_io.run();
  for (auto& w : server.workers) w->join();
}

// The exit once the workers have stopped.
int exitAfterDrain(Server& server) {
  size_t cut = 0, flushing = 0;
  for (auto& w : server.workers) {
    cut += w->activeRequests();
    flushing += w->finishingPlugins();
  }
  if (cut > 0 || flushing > 0) {
    // The drain deadline passed with requests in flight. Their streams are suspended on loops
    // that have stopped, with plugin contexts in VMs that only their own (now finished) threads
    // may enter: tearing them down here would run plugin code on the wrong thread. Exit as Envoy
    // does at its drain deadline, without unwinding them.
    spdlog::warn("drain deadline passed: {} request(s) cut, {} plugin(s) cut while flushing", cut,
                 flushing);
    spdlog::shutdown();
    std::_Exit(0);
  }
  spdlog::info("wasm-proxy stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string_view(argv[1]) == "compile") return compileCommand(argc - 1, argv + 1);
  Server server;
  CommandLine cli;
  if (auto exit_code = parseCommandLine(argc, argv, server, cli)) return *exit_code;
  setUpLogging(cli, server);

  std::string error;
  server.config = server.load(&error);
  if (!server.config) {
    std::cerr << "wasm-proxy: invalid configuration: " << error << "\n";
    return 1;
  }
  if (!startWorkers(server, cli.concurrency)) return 1;
  if (cli.mode == "validate") {
    std::cout << "configuration '" << server.config_path << "' OK\n";
    stopAll(server);
    return 0;
  }
  if (!listen(server)) {
    stopAll(server);
    return 1;
  }
  serveUntilStopped(server, cli.concurrency);
  return exitAfterDrain(server);
}

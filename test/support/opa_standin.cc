// opa-standin: a STAND-IN for an Open Policy Agent server, for tests only. OPA itself cannot be
// installed here (neither Debian nor npm ships the server), so this speaks the part of OPA's REST
// Data API the plugin uses and evaluates one fixed policy, equivalent to upstream's test rule:
//
//   package test
//   default allow = false
//   allow { input.request_method == "GET"; input.request_url_path == "/echo";
//           input.destination_workload == "echo-server";
//           input.source_principal == <--principal> }      # any principal when --principal is ""
//
//   POST /v1/data/test/allow   {"input": {...}}  -> 200 {"result": true|false}
//   POST /v1/data/test/decision                  -> 200 {"result": {"allow": ..., "headers":
//   {...}}} POST /v1/data/undefined/rule                 -> 200 {}           (undefined document,
//   as OPA) POST /v1/data/slow/allow                     -> answers after 2 s POST
//   /v1/data/garbage/allow                  -> 200 "not json" a body that is not {"input": object}
//   -> 400 {"code": "invalid_parameter", ...}
//
// Point the plugin at a real server instead with `opa run --server policy.rego` (port 8181).
#include <CLI/CLI.hpp>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <iostream>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

namespace {

std::string principal;
std::atomic<int> requests{0};

http::response<http::string_body> evaluate(const http::request<http::string_body>& req) {
  http::response<http::string_body> res{http::status::ok, req.version()};
  res.set(http::field::content_type, "application/json");
  std::string target(req.target());
  auto body = nlohmann::json::parse(req.body(), nullptr, false);
  if (req.method() != http::verb::post || body.is_discarded() || !body.is_object() ||
      !body.contains("input") || !body["input"].is_object()) {
    res.result(http::status::bad_request);
    res.body() = R"({"code":"invalid_parameter","message":"expected {\"input\": object}"})";
    return res;
  }
  const auto& in = body["input"];
  auto field = [&](const char* k) {
    return in.contains(k) && in[k].is_string() ? in[k].get<std::string>() : std::string();
  };
  const bool allow = field("request_method") == "GET" && field("request_url_path") == "/echo" &&
                     field("destination_workload") == "echo-server" &&
                     (principal.empty() || field("source_principal") == principal);
  if (target == "/v1/data/test/allow") {
    res.body() = nlohmann::json{{"result", allow}}.dump();
  } else if (target == "/v1/data/test/decision") {
    nlohmann::json result = {{"allow", allow}};
    if (allow) result["headers"] = {{"x-opa-decision", "allowed"}};
    if (!allow) {
      result["status"] = 401;
      result["body"] = "denied by policy";
    }
    res.body() = nlohmann::json{{"result", result}}.dump();
  } else if (target == "/v1/data/garbage/allow") {
    res.set(http::field::content_type, "text/plain");
    res.body() = "not json";
  } else {
    res.body() = "{}";  // an undefined document: no "result"
  }
  return res;
}

asio::awaitable<void> session(tcp::socket socket) {
  beast::flat_buffer buf;
  for (;;) {
    http::request<http::string_body> req;
    auto [ec, n] = co_await http::async_read(socket, buf, req, asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    ++requests;
    if (req.target() == "/v1/data/slow/allow") {
      asio::steady_timer t(socket.get_executor(), std::chrono::seconds(2));
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    auto res = evaluate(req);
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    auto [wec, wn] = co_await http::async_write(socket, res, asio::as_tuple(asio::use_awaitable));
    if (wec || !req.keep_alive()) co_return;
  }
}

asio::awaitable<void> acceptLoop(tcp::acceptor& acceptor) {
  for (;;) {
    auto [ec, sock] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (!ec) asio::co_spawn(acceptor.get_executor(), session(std::move(sock)), asio::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "opa-standin: a stand-in for OPA's REST Data API with one fixed policy (tests only)"};
  uint16_t port = 8181;
  app.add_option("--port", port);
  app.add_option("--principal", principal, "required source_principal (empty: any)");
  CLI11_PARSE(app, argc, argv);
  asio::io_context io;
  tcp::acceptor acceptor(io);
  tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
  acceptor.open(ep.protocol());
  acceptor.set_option(asio::socket_base::reuse_address(true));
  acceptor.bind(ep);
  acceptor.listen();
  std::cout << "opa-standin (NOT OPA) listening on 127.0.0.1:" << port << std::endl;
  asio::co_spawn(io, acceptLoop(acceptor), asio::detached);
  io.run();
}

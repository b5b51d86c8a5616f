// echo-upstream: a real HTTP/1.1 server that answers with the request it saw, for tests, the
// demo and benchmarks.
//
//   echo-upstream --port 8081 [--threads 1]
//
// Response: 200 with a JSON body {"method","path","headers":{...},"body"} and the header
// x-echo-upstream: 1. Special paths:
//   /status/<code>   answer with that status
//   .../delay/<ms>   answer after <ms> milliseconds (anywhere in the path)
//   /reset           close the connection without answering
//   /bytes/<n>       answer with n bytes of 'x'
//   /plain           a small text/plain body ("ok"), for benchmarks
#include <CLI/CLI.hpp>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <iostream>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

namespace {

std::string jsonEscape(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

asio::awaitable<void> session(tcp::socket socket) {
  beast::flat_buffer buf;
  socket.set_option(tcp::no_delay(true));
  for (;;) {
    http::request<http::string_body> req;
    auto [ec, n] = co_await http::async_read(socket, buf, req, asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    std::string path(req.target());
    http::response<http::string_body> res{http::status::ok, req.version()};
    res.set("x-echo-upstream", "1");
    if (path.rfind("/reset", 0) == 0) {
      socket.close();
      co_return;
    }
    if (size_t d = path.find("/delay/"); d != std::string::npos) {
      asio::steady_timer t(socket.get_executor(),
                           std::chrono::milliseconds(std::atoi(path.c_str() + d + 7)));
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    if (path.rfind("/status/", 0) == 0) res.result(std::atoi(path.c_str() + 8));
    if (path == "/plain") {
      res.set(http::field::content_type, "text/plain");
      res.body() = "ok";
    } else if (path.rfind("/bytes/", 0) == 0) {
      res.set(http::field::content_type, "application/octet-stream");
      res.body() = std::string(std::strtoul(path.c_str() + 7, nullptr, 10), 'x');
    } else {
      std::string body = "{\"method\":\"" + jsonEscape(std::string(req.method_string())) +
                         "\",\"path\":\"" + jsonEscape(path) + "\",\"headers\":{";
      bool first = true;
      for (const auto& f : req) {
        body += (first ? "\"" : ",\"") + jsonEscape(beast::string_view(f.name_string())) + "\":\"" +
                jsonEscape(f.value()) + "\"";
        first = false;
      }
      body += "},\"body\":\"" + jsonEscape(req.body()) + "\"}";
      res.set(http::field::content_type, "application/json");
      res.body() = std::move(body);
    }
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    auto [wec, wn] = co_await http::async_write(socket, res, asio::as_tuple(asio::use_awaitable));
    if (wec || !req.keep_alive()) co_return;
  }
}

asio::awaitable<void> acceptLoop(tcp::acceptor& acceptor) {
  for (;;) {
    auto [ec, sock] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec) continue;
    asio::co_spawn(acceptor.get_executor(), session(std::move(sock)), asio::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"echo-upstream: answers HTTP requests with the request it saw"};
  std::string address = "127.0.0.1";
  uint16_t port = 8081;
  unsigned threads = 1;
  app.add_option("--address", address);
  app.add_option("--port", port);
  app.add_option("--threads", threads);
  CLI11_PARSE(app, argc, argv);
  asio::io_context io;
  tcp::acceptor acceptor(io);
  tcp::endpoint ep(asio::ip::make_address(address), port);
  acceptor.open(ep.protocol());
  acceptor.set_option(asio::socket_base::reuse_address(true));
  boost::system::error_code ec;
  acceptor.bind(ep, ec);
  if (ec) {
    std::cerr << "echo-upstream: cannot bind " << address << ":" << port << ": " << ec.message()
              << "\n";
    return 1;
  }
  acceptor.listen();
  std::cout << "echo-upstream listening on " << address << ":" << acceptor.local_endpoint().port()
            << std::endl;
  asio::co_spawn(io, acceptLoop(acceptor), asio::detached);
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i) pool.emplace_back([&] { io.run(); });
  io.run();
  for (auto& t : pool) t.join();
}

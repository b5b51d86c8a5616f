// echo-upstream: a real HTTP/1.1 server that answers with the request it saw, for tests, the
// demo and benchmarks.
//
//   echo-upstream --port 8081 [--threads 1] [--files DIR]
//
// Response: 200 with a JSON body {"method","path","headers":{...},"body"} and the header
// x-echo-upstream: 1. Special paths (/status/<code>, .../delay/<ms>, /reset, /bytes/<n>, /plain,
// /count, /truncate/<n>, /switch, /stream/<n>/<ms>, /files/<name>) are listed, with what they do,
// by --help (the footer in main()).
#include <CLI/CLI.hpp>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <fstream>
#include <iostream>
#include <sstream>
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

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

// /count: the body streamed through a fixed buffer, hashed, never held whole.
asio::awaitable<bool> count(tcp::socket& socket, beast::flat_buffer& buf,
                            http::request_parser<http::buffer_body>& parser) {
  const size_t head_fields = std::distance(parser.get().begin(), parser.get().end());
  uint64_t bytes = 0, hash = 1469598103934665603ull;
  std::vector<char> piece(64 * 1024);
  while (!parser.is_done()) {
    parser.get().body().data = piece.data();
    parser.get().body().size = piece.size();
    auto [ec, n] = co_await http::async_read_some(socket, buf, parser, nothrow);
    if (ec && ec != http::error::need_buffer) co_return false;
    const size_t got = piece.size() - parser.get().body().size;
    for (size_t i = 0; i < got; ++i)
      hash = (hash ^ static_cast<unsigned char>(piece[i])) * 1099511628211ull;
    bytes += got;
  }
  std::string trailers;
  size_t i = 0;
  for (const auto& f : parser.get()) {
    if (i++ < head_fields) continue;
    trailers += (trailers.empty() ? "\"" : ",\"") + jsonEscape(f.name_string()) + "\":\"" +
                jsonEscape(f.value()) + "\"";
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  http::response<http::string_body> res{http::status::ok, 11};
  res.set(http::field::content_type, "application/json");
  res.body() = "{\"bytes\":" + std::to_string(bytes) + ",\"fnv1a\":\"" + hex + "\",\"trailers\":{" +
               trailers + "}}";
  res.keep_alive(parser.get().keep_alive());
  res.prepare_payload();
  auto [wec, wn] = co_await http::async_write(socket, res, nothrow);
  co_return !wec && parser.get().keep_alive();
}

// /stream/<n>/<ms>: a chunked response in two pieces with a pause between, and a trailer.
asio::awaitable<bool> stream(tcp::socket& socket, std::string_view path, bool keep_alive) {
  size_t n = std::strtoul(path.data() + 8, nullptr, 10);
  size_t slash = path.find('/', 8);
  long ms = slash == std::string_view::npos ? 0 : std::atol(path.data() + slash + 1);
  auto chunk = [](char c, size_t n) {
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", n);
    return std::string(size) + std::string(n, c) + "\r\n";
  };
  std::string head =
      "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n";
  head += "trailer: x-upstream-trailer\r\n";
  if (!keep_alive) head += "connection: close\r\n";
  head += "\r\n" + chunk('a', n);
  auto [ec, w] = co_await asio::async_write(socket, asio::buffer(head), nothrow);
  if (ec) co_return false;
  asio::steady_timer t(socket.get_executor(), std::chrono::milliseconds(ms));
  co_await t.async_wait(nothrow);
  std::string rest = chunk('b', n) + "0\r\nx-upstream-trailer: done\r\n\r\n";
  auto [ec2, w2] = co_await asio::async_write(socket, asio::buffer(rest), nothrow);
  co_return !ec2 && keep_alive;
}

std::string g_files_dir;  // --files

asio::awaitable<void> session(tcp::socket socket) {
  beast::flat_buffer buf;
  socket.set_option(tcp::no_delay(true));
  for (;;) {
    http::request_parser<http::buffer_body> head_parser;
    head_parser.body_limit(boost::none);
    auto [hec, hn] = co_await http::async_read_header(socket, buf, head_parser, nothrow);
    if (hec) co_return;
    const std::string target(head_parser.get().target());
    if (target == "/count") {
      if (!co_await count(socket, buf, head_parser)) co_return;
      continue;
    }
    if (target.rfind("/truncate/", 0) == 0) {
      const size_t n = std::strtoul(target.c_str() + 10, nullptr, 10);
      std::string out = "HTTP/1.1 200 OK\r\ncontent-length: " + std::to_string(2 * n) + "\r\n\r\n" +
                        std::string(n, 't');
      co_await asio::async_write(socket, asio::buffer(out), nothrow);
      co_return;  // closes the connection
    }
    if (target == "/switch") {  // switches protocols although nobody asked, then talks raw
      static constexpr std::string_view kSwitch =
          "HTTP/1.1 101 Switching Protocols\r\nupgrade: raw\r\nconnection: upgrade\r\n\r\n"
          "raw bytes of another protocol";
      co_await asio::async_write(socket, asio::buffer(kSwitch), nothrow);
      continue;
    }
    if (target.rfind("/stream/", 0) == 0 && head_parser.is_done()) {
      if (!co_await stream(socket, target, head_parser.get().keep_alive())) co_return;
      continue;
    }
    // Everything else reads the whole body (up to 64 MiB) and answers at once.
    http::request_parser<http::string_body> parser(std::move(head_parser));
    parser.body_limit(64u << 20);
    auto [ec, n] = co_await http::async_read(socket, buf, parser, nothrow);
    if (ec) co_return;
    http::request<http::string_body> req = parser.release();
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
    if (path.rfind("/files/", 0) == 0) {
      // A file of --files DIR (a plain name: no '/' or ".."), as JSON; 404 when absent.
      const std::string name = path.substr(7);
      std::ifstream in(g_files_dir + "/" + name, std::ios::binary);
      if (g_files_dir.empty() || name.find('/') != std::string::npos ||
          name.find("..") != std::string::npos || !in) {
        res.result(http::status::not_found);
      } else {
        std::ostringstream ss;
        ss << in.rdbuf();
        res.set(http::field::content_type, "application/json");
        res.body() = ss.str();
      }
    } else if (path == "/plain") {
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
  app.add_option("--address", address, "address to listen on")->capture_default_str();
  app.add_option("--port", port, "port to listen on")->capture_default_str();
  app.add_option("--threads", threads, "threads serving connections")->capture_default_str();
  app.add_option("--files", g_files_dir, "answer GET /files/NAME with the file DIR/NAME");
  app.footer(
      R"(Every request gets 200 with a JSON body {"method","path","headers":{...},"body"} and the
header x-echo-upstream: 1, except these paths:
  /status/<code>     that status
  .../delay/<ms>     the answer after <ms> milliseconds (anywhere in the path)
  /reset             the connection closed without an answer
  /bytes/<n>         n bytes of 'x'
  /plain             a small text/plain "ok" (for benchmarks)
  /count             {"bytes":N,"fnv1a":"...","trailers":{...}} of a body of any size
  /truncate/<n>      2n bytes announced, n sent, then the connection closed
  /switch            an unasked 101 Switching Protocols, then raw bytes
  /stream/<n>/<ms>   a chunked body: n bytes, a pause of ms, n bytes, a trailer
  /files/<name>      the file <name> from --files)");
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

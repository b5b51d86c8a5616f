// The HTTP/1.1 parser on byte streams: the header map as filters see it (pseudo-headers first,
// arrival order kept), the RFC 9112 refusals, bodies and trailers, split anywhere.
#include "http1/parser.h"

#include <gtest/gtest.h>

namespace {

using namespace wasm_proxy::http1;

struct Parsed {
  boost::system::error_code ec;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers, trailers;
  std::optional<HeadError> error;
  bool expects_continue = false;
};

// Feeds `bytes` in pieces of `step` bytes, as a socket might deliver them.
Parsed parse(std::string_view bytes, size_t step = 1 << 20) {
  RequestParser p;
  p.eager(true);
  p.body_limit(boost::none);
  Parsed out;
  p.bodyInto(&out.body);
  p.pieceLimit(1 << 30);
  std::string pending;
  for (size_t at = 0; at < bytes.size() && !p.is_done();) {
    pending.append(bytes.substr(at, step));
    at += step;
    for (;;) {
      const size_t used = p.put(boost::asio::buffer(pending), out.ec);
      pending.erase(0, used);
      if (out.ec == http::error::need_more) {
        out.ec = {};
        break;
      }
      if (out.ec || p.is_done() || used == 0) break;
    }
    if (out.ec) break;
  }
  out.headers = p.headers().entries();
  out.trailers = p.trailers().entries();
  out.error = p.headError();
  out.expects_continue = p.expectsContinue();
  return out;
}

using Entries = std::vector<std::pair<std::string, std::string>>;

TEST(Http1Parser, PseudoHeadersFirstThenFieldsInArrivalOrder) {
  for (size_t step : {1, 3, 1000}) {
    auto r =
        parse("GET /p?q=1 HTTP/1.1\r\nX-A: 1\r\nHost: h.example\r\nx-b: 2\r\nX-A: 3\r\n\r\n", step);
    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.headers, (Entries{{":method", "GET"},
                                  {":path", "/p?q=1"},
                                  {":authority", "h.example"},
                                  {":scheme", "http"},
                                  {"x-a", "1"},
                                  {"x-b", "2"},
                                  {"x-a", "3"}}))
        << "step " << step;
  }
}

TEST(Http1Parser, HeadersNamedByConnectionAreNotForwarded) {
  auto r = parse(
      "GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, X-Secret\r\n"
      "x-secret: s\r\nx-kept: k\r\n\r\n");
  ASSERT_FALSE(r.ec);
  for (const auto& [k, v] : r.headers) EXPECT_NE(k, "x-secret");
  EXPECT_EQ(r.headers.back(), (std::pair<std::string, std::string>{"x-kept", "k"}));
}

TEST(Http1Parser, RefusesWhatCannotBeFramedOrIsAmbiguous) {
  for (const char* te : {"xchunked", "chunked, identity", "gzip, chunked", "identity"}) {
    auto r =
        parse(std::string("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: ") + te + "\r\n\r\n");
    ASSERT_TRUE(r.error) << te;
    EXPECT_EQ(r.error->status, 501u) << te;
  }
  auto two_hosts = parse("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
  ASSERT_TRUE(two_hosts.error);
  EXPECT_EQ(two_hosts.error->status, 400u);
  auto lower = parse("get /admin HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_TRUE(lower.error);
  EXPECT_EQ(lower.error->status, 400u);
  auto custom = parse("PURGEX / HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_FALSE(custom.error) << "an unknown method is the upstream's business";
  auto chunked = parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n");
  EXPECT_FALSE(chunked.error);
}

TEST(Http1Parser, ChunkedBodyAndTrailersSplitAnywhere) {
  const std::string wire =
      "POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n"
      "5\r\nhello\r\n6\r\n world\r\n0\r\nx-sum: 42\r\n\r\n";
  for (size_t step : {1, 2, 7, 4096}) {
    auto r = parse(wire, step);
    ASSERT_FALSE(r.ec) << r.ec.message() << " step " << step;
    EXPECT_EQ(r.body, "hello world");
    EXPECT_EQ(r.trailers, (Entries{{"x-sum", "42"}}));
    EXPECT_TRUE(r.expects_continue);
  }
}

TEST(Http1Parser, BodyPiecesAreBoundedPerRead) {
  RequestParser p;
  p.body_limit(boost::none);
  const std::string body(RequestParser::kPiece * 2 + 10, 'b');
  const std::string wire =
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
      body;
  boost::system::error_code ec;
  size_t at = p.put(boost::asio::buffer(wire), ec);
  ASSERT_TRUE(p.is_header_done());
  std::string piece;
  p.bodyInto(&piece);
  at += p.put(boost::asio::buffer(wire.data() + at, wire.size() - at), ec);
  EXPECT_EQ(piece.size(), RequestParser::kPiece);
  EXPECT_EQ(p.bodyBytes(), RequestParser::kPiece);
}

}  // namespace

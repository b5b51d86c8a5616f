// The HTTP/1.1 writer of wasm-proxy: heads, framing decisions, and what never reaches the wire.
#include "http1/writer.h"

#include <gtest/gtest.h>

namespace {

using namespace wasm_proxy::http1;

VectorHeaderMap map(std::vector<std::pair<std::string, std::string>> entries) {
  return VectorHeaderMap(entries);
}

BodyShape whole(size_t size) {
  BodyShape s;
  s.complete = true;
  s.known_size = size;
  return s;
}

BodyShape bodylessRequest(std::string_view method) {
  BodyShape s = whole(0);
  s.is_request = true;
  s.method = method;
  return s;
}

std::string write(const VectorHeaderMap& h, BodyShape shape, std::vector<std::string> pieces,
                  const VectorHeaderMap* trailers = nullptr, bool* ok = nullptr) {
  MessageWriter w(responseHead(h, shape.peer_http11 ? 11 : 10), h, shape);
  std::string out;
  bool all = true;
  for (size_t i = 0; i < pieces.size(); ++i) {
    all = w.append(out, pieces[i], i + 1 == pieces.size(), trailers) && all;
  }
  if (ok != nullptr) *ok = all;
  return out;
}

TEST(Http1, RequestHeadHasHostAndDropsHopByHopAndPseudoHeaders) {
  auto h = map({{":method", "POST"},
                {":path", "/a?b=1"},
                {":authority", "example.com"},
                {":scheme", "http"},
                {"connection", "close"},
                {"transfer-encoding", "chunked"},
                {"content-length", "5"},
                {"x-keep", "1"}});
  EXPECT_EQ(requestHead(h), "POST /a?b=1 HTTP/1.1\r\nhost: example.com\r\nx-keep: 1\r\n");
}

TEST(Http1, HeadersWithLineBreaksNeverReachTheWire) {
  auto h = map({{":status", "200"}, {"x-evil", "a\r\nset-cookie: x=1"}, {"x-ok", "fine"}});
  std::string out = write(h, whole(0), {""});
  EXPECT_EQ(out.find("set-cookie"), std::string::npos) << out;
  EXPECT_NE(out.find("x-ok: fine\r\n"), std::string::npos);
}

TEST(Http1, AWholeBodyGetsItsLength) {
  auto h = map({{":status", "200"}, {"content-length", "999"}});
  EXPECT_EQ(write(h, whole(5), {"hello"}), "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello");
}

TEST(Http1, AStreamedBodyKeepsADeclaredLengthOrGoesChunkedWithTrailers) {
  bool ok = false;
  auto declared = map({{":status", "200"}, {"content-length", "6"}});
  EXPECT_EQ(write(declared, {}, {"abc", "def"}, nullptr, &ok),
            "HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nabcdef");
  EXPECT_TRUE(ok);
  // More than declared: cut to the length, and reported so the connection closes.
  EXPECT_EQ(write(declared, {}, {"abcd", "efgh"}, nullptr, &ok),
            "HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nabcdef");
  EXPECT_FALSE(ok);
  write(declared, {}, {"ab", "c"}, nullptr, &ok);
  EXPECT_FALSE(ok) << "short of the declared length";

  auto trailers = map({{"x-t", "1"}});
  EXPECT_EQ(write(map({{":status", "200"}}), {}, {"abc", ""}, &trailers),
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nx-t: 1\r\n\r\n");
}

TEST(Http1, Http10ClientsGetCloseDelimitedBodiesAndHeadGetsNoBody) {
  BodyShape ten;
  ten.peer_http11 = false;
  EXPECT_EQ(write(map({{":status", "200"}}), ten, {"abc", "d"}), "HTTP/1.0 200 OK\r\n\r\nabcd");
  BodyShape head;
  head.no_body_allowed = true;
  EXPECT_EQ(write(map({{":status", "200"}, {"content-length", "42"}}), head, {""}),
            "HTTP/1.1 200 OK\r\ncontent-length: 42\r\n\r\n");
}

TEST(Http1, RequestsWithoutABodyCarryNoLengthUnlessTheMethodExpectsOne) {
  auto get = map({{":method", "GET"}, {":path", "/"}, {":authority", "h"}});
  MessageWriter g(requestHead(get), get, bodylessRequest("GET"));
  std::string out;
  g.append(out, "", true);
  EXPECT_EQ(out, "GET / HTTP/1.1\r\nhost: h\r\n\r\n");
  auto post = map({{":method", "POST"}, {":path", "/"}, {":authority", "h"}});
  MessageWriter p(requestHead(post), post, bodylessRequest("POST"));
  out.clear();
  p.append(out, "", true);
  EXPECT_EQ(out, "POST / HTTP/1.1\r\nhost: h\r\ncontent-length: 0\r\n\r\n");
}

}  // namespace

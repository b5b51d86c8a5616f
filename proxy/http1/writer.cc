#include "http1/writer.h"

#include <boost/beast/http.hpp>

#include <charconv>

namespace wasm_proxy::http1 {

namespace {

bool hopByHopOrFraming(std::string_view key) {
  return key == "content-length" || key == "transfer-encoding" || key == "connection" ||
         key == "keep-alive" || key == "te" || key == "upgrade" || key == "proxy-connection";
}

bool safeOnTheWire(std::string_view s) {
  for (char c : s) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

void appendHeader(std::string& out, std::string_view k, std::string_view v) {
  out.append(k).append(": ").append(v).append("\r\n");
}

void appendEndToEnd(std::string& out, const VectorHeaderMap& headers) {
  for (const auto& [k, v] : headers.entries()) {
    if (k.empty() || k[0] == ':' || k == "host" || hopByHopOrFraming(k)) continue;
    if (!safeOnTheWire(k) || !safeOnTheWire(v)) continue;
    appendHeader(out, k, v);
  }
}

void appendHex(std::string& out, size_t n) {
  char buf[20];
  auto r = std::to_chars(buf, buf + sizeof buf, n, 16);
  out.append(buf, r.ptr);
}

}  // namespace

std::optional<size_t> contentLength(const VectorHeaderMap& headers) {
  auto v = headers.get("content-length");
  if (!v || v->empty()) return std::nullopt;
  size_t n = 0;
  auto r = std::from_chars(v->data(), v->data() + v->size(), n);
  if (r.ec != std::errc() || r.ptr != v->data() + v->size()) return std::nullopt;
  return n;
}

std::string requestHead(const VectorHeaderMap& headers) {
  std::string out;
  out.reserve(256 + headers.byteSize());
  auto method = headers.get(":method").value_or("GET");
  auto path = headers.get(":path").value_or("/");
  out.append(method).append(" ").append(path).append(" HTTP/1.1\r\n");
  if (auto host = headers.get(":authority"); host && safeOnTheWire(*host)) {
    appendHeader(out, "host", *host);
  }
  appendEndToEnd(out, headers);
  return out;
}

std::string responseHead(const VectorHeaderMap& headers, unsigned version) {
  std::string out;
  out.reserve(128 + headers.byteSize());
  unsigned status = 502;
  if (auto s = headers.get(":status")) {
    unsigned v = 0;
    auto r = std::from_chars(s->data(), s->data() + s->size(), v);
    if (r.ec == std::errc() && v >= 100 && v <= 999) status = v;
  }
  out.append(version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
  char buf[4];
  auto r = std::to_chars(buf, buf + sizeof buf, status);
  out.append(buf, r.ptr).append(" ");
  out.append(boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(status)));
  out.append("\r\n");
  appendEndToEnd(out, headers);
  return out;
}

MessageWriter::MessageWriter(std::string head, const VectorHeaderMap& headers,
                             const BodyShape& shape)
    : head_(std::move(head)) {
  auto declared = contentLength(headers);
  if (shape.no_body_allowed) {
    framing_ = Framing::None;
    // A HEAD or 304 response keeps the length the headers announce.
    if (declared) appendHeader(head_, "content-length", std::to_string(*declared));
  } else if (shape.complete) {
    framing_ = Framing::Length;
    declared_ = shape.known_size;
    const bool bodyless_request = shape.is_request && shape.known_size == 0 &&
                                  shape.method != "POST" && shape.method != "PUT" &&
                                  shape.method != "PATCH";
    if (!bodyless_request) appendHeader(head_, "content-length", std::to_string(declared_));
  } else if (declared) {
    framing_ = Framing::Length;
    declared_ = *declared;
    appendHeader(head_, "content-length", std::to_string(declared_));
  } else if (shape.peer_http11) {
    framing_ = Framing::Chunked;
    appendHeader(head_, "transfer-encoding", "chunked");
  } else {
    framing_ = Framing::Close;
  }
}

void MessageWriter::addHeader(std::string_view key, std::string_view value) {
  if (!head_written_ && safeOnTheWire(key) && safeOnTheWire(value)) appendHeader(head_, key, value);
}

bool MessageWriter::append(std::string& out, std::string_view data, bool eos,
                           const VectorHeaderMap* trailers) {
  if (!head_written_) {
    head_.append("\r\n");
    if (out.empty()) {
      out.swap(head_);  // the head's buffer becomes the message's: no copy, no allocation
      out.reserve(out.size() + data.size() + 32);
    } else {
      out.append(head_);
    }
    head_written_ = true;
    head_ = std::string();
  }
  bool ok = true;
  switch (framing_) {
    case Framing::None:
      break;
    case Framing::Close:
      out.append(data);
      break;
    case Framing::Length:
      if (data.size() > declared_) {
        data = data.substr(0, declared_);
        ok = false;
      }
      out.append(data);
      declared_ -= data.size();
      if (eos && declared_ != 0) ok = false;
      break;
    case Framing::Chunked:
      if (!data.empty()) {
        appendHex(out, data.size());
        out.append("\r\n").append(data).append("\r\n");
      }
      if (eos) {
        out.append("0\r\n");
        if (trailers != nullptr) appendEndToEnd(out, *trailers);
        out.append("\r\n");
      }
      break;
  }
  return ok;
}

}  // namespace wasm_proxy::http1

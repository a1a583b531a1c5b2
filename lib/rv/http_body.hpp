// Where the body of an HTTP/1.1 request ends (RFC 9112 §6), without I/O and
// without decoding it: a relay that passes a connection's requests on as they
// are can still tell where one request stops and the next head begins.
#pragma once
#include <cstdint>
#include <optional>
#include <string_view>

#include "rv/head.hpp"

namespace rv {

struct body_framing {
  enum class kind { none, length, chunked } how = kind::none;
  std::uint64_t length = 0;  // kind::length
};

// The framing a request head declares (RFC 9112 §6.3): chunked when
// Transfer-Encoding's last coding is chunked, else Content-Length, else no
// body. nullopt when the length cannot be determined, which a server answers
// with 400: a Transfer-Encoding that does not end in chunked, both fields, a
// repeated or non-numeric Content-Length.
std::optional<body_framing> request_body_framing(const request_head& head);

// Follows one body through the bytes that come after its head.
//
// A chunked body is checked as it passes, strictly and within bounds: hex
// chunk sizes of at most 15 digits, a chunk-size line (extensions included) of
// at most 4 KiB, CRLF after every chunk's data, trailer fields of at most
// 16 KiB in all; anything else makes it bad().
class request_body {
 public:
  explicit request_body(body_framing f);

  // How many of the first bytes of `data` belong to this body (all of them
  // until it ends); once done(), the rest is the next request's.
  std::size_t take(std::string_view data);
  bool done() const { return state_ == state::done; }
  bool bad() const { return state_ == state::bad; }

 private:
  enum class state {
    length,        // left_ bytes of a Content-Length body
    size,          // hex digits of a chunk size
    extension,     // the rest of a chunk-size line, up to its CR
    size_lf,       // the LF after a chunk-size line
    data,          // left_ bytes of chunk data
    data_cr,       // the CRLF after chunk data
    data_lf,
    trailer_start, // the start of a trailer line, or the final CRLF
    trailer,       // within a trailer line
    trailer_lf,    // the LF ending a trailer line
    final_lf,      // the LF of the empty line that ends the body
    done,
    bad,
  };

  state state_;
  std::uint64_t left_ = 0;        // length / data: bytes still to come
  std::uint64_t size_ = 0;        // the chunk size being read
  unsigned digits_ = 0;           // its hex digits so far
  std::size_t line_ = 0;          // bytes of the current chunk-size line
  std::size_t trailer_bytes_ = 0; // bytes of trailer fields so far
};

}  // namespace rv

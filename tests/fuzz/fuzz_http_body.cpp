// libFuzzer target: the chunked-body scanner (and Content-Length framing) on arbitrary bytes,
// fed whole and in pieces of a fuzzer-chosen size: both must agree on where the body ends.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "rv/http_body.hpp"

namespace {

void check(bool ok) {
  if (!ok) std::abort();  // libFuzzer saves the input
}

struct outcome {
  std::size_t taken = 0;
  bool done = false, bad = false;
};

outcome feed(rv::body_framing f, std::string_view data, std::size_t step) {
  rv::request_body body(f);
  outcome o;
  while (o.taken < data.size() && !body.done() && !body.bad()) {
    const auto piece = data.substr(o.taken, step);
    const std::size_t n = body.take(piece);
    check(n <= piece.size());
    o.taken += n;
    if (n < piece.size()) break;
  }
  o.done = body.done();
  o.bad = body.bad();
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  // The first byte picks the framing and the piece size; the rest is what follows the head.
  const bool chunked = (data[0] & 0x80) == 0;
  const std::size_t step = 1 + (data[0] & 0x0f);
  const rv::body_framing framing =
      chunked ? rv::body_framing{rv::body_framing::kind::chunked, 0}
              : rv::body_framing{rv::body_framing::kind::length, static_cast<std::uint64_t>(data[1]) * 7};
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 2, size - 2);
  const auto whole = feed(framing, bytes, bytes.size() + 1);
  const auto split = feed(framing, bytes, step);
  check(whole.done == split.done && whole.bad == split.bad);
  check(!(whole.done && whole.bad));
  if (!whole.bad) check(whole.taken == split.taken);
  check(whole.taken <= bytes.size());
  if (!whole.done && !whole.bad) check(whole.taken == bytes.size());  // a body not ended takes everything
  return 0;
}

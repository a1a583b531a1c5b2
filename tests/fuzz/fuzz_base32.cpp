// libFuzzer target: base32 and base64 decoding of arbitrary text, and encode -> decode round trips.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>

#include "rv/base32.hpp"
#include "rv/base64.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);

  if (auto bytes = rv::base32_decode(text)) {
    auto again = rv::base32_decode(rv::base32_encode(*bytes));
    if (!again || *again != *bytes) std::abort();
  }
  if (auto bytes = rv::base64_decode(text)) {
    auto again = rv::base64_decode(rv::base64_encode(*bytes));
    if (!again || *again != *bytes) std::abort();
  }
  // And the raw bytes through both encoders.
  std::span<const std::uint8_t> raw(data, size);
  auto b32 = rv::base32_decode(rv::base32_encode(raw));
  if (!b32 || !std::equal(b32->begin(), b32->end(), raw.begin(), raw.end())) std::abort();
  auto b64 = rv::base64_decode(rv::base64_encode(raw));
  if (!b64 || !std::equal(b64->begin(), b64->end(), raw.begin(), raw.end())) std::abort();
  return 0;
}

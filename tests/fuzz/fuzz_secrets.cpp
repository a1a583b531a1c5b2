// libFuzzer target: the secrets and names file parsers on arbitrary text.
// rv::config_error is their documented answer to bad input; any other
// exception escaping is a bug (libFuzzer reports it as a crash).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "rv/error.hpp"
#include "rv/names.hpp"
#include "rv/secrets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    (void)rv::parse_secrets(text);
  } catch (const rv::config_error&) {
  }
  try {
    auto names = rv::parse_names(text);
    for (const auto& [key, entry] : names) {
      if (rv::find_name(names, entry.name) == nullptr) std::abort();
      (void)rv::resolve_target(names, entry.name + ".rv");
    }
    (void)rv::resolve_target(names, text);
  } catch (const rv::config_error&) {
  }
  return 0;
}

// SPKI pins in text (see trust.hpp).
#include "rv/trust.hpp"

#include <algorithm>

#include "rv/base64.hpp"
#include "rv/error.hpp"

namespace rv {

std::optional<spki_pin> parse_pin(std::string_view text) {
  constexpr std::string_view prefix = "sha256//";
  if (!text.starts_with(prefix)) return std::nullopt;
  auto raw = base64_decode(text.substr(prefix.size()));
  if (!raw || raw->size() != 32) return std::nullopt;
  spki_pin pin{};
  std::copy(raw->begin(), raw->end(), pin.begin());
  return pin;
}

std::vector<spki_pin> parse_pins(std::string_view text) {
  std::vector<spki_pin> pins;
  while (!text.empty()) {
    auto cut = text.find(';');
    auto one = text.substr(0, cut);
    auto pin = parse_pin(one);
    if (!pin)
      throw config_error("--pin must look like sha256//BASE64 (the base64 of the SHA-256 of the "
                         "server's DER public key), got '" + std::string(one) + "'");
    pins.push_back(*pin);
    text = cut == std::string_view::npos ? std::string_view{} : text.substr(cut + 1);
  }
  return pins;
}

std::string to_string(const spki_pin& pin) { return "sha256//" + base64_encode(pin); }

}  // namespace rv

// Parsing and printing "host:port", "[v6]:port" and bare "port" endpoints.
#include "rv/endpoint.hpp"

#include <algorithm>
#include <charconv>

namespace rv {
namespace {

bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

std::optional<std::uint16_t> parse_port(std::string_view text) {
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || ptr != text.data() + text.size() || value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

// Names and IPv4 literals; anything else (spaces, '/', '@', ...) is stray text.
bool valid_name(std::string_view host) {
  return !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
    return is_alnum(c) || c == '.' || c == '-' || c == '_';
  });
}

// Bracketed IPv6 literal, optionally with a zone ("fe80::1%eth0").
bool valid_v6(std::string_view host) {
  return host.find(':') != std::string_view::npos && std::all_of(host.begin(), host.end(), [](char c) {
    return is_alnum(c) || c == ':' || c == '.' || c == '%' || c == '-' || c == '_';
  });
}

}  // namespace

std::optional<endpoint_spec> parse_endpoint(std::string_view text, std::string_view default_host) {
  endpoint_spec ep;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') return std::nullopt;
    std::string_view host = text.substr(1, close - 1);
    if (!valid_v6(host)) return std::nullopt;
    ep.host = host;
    port_text = text.substr(close + 2);
  } else {
    auto colon = text.find(':');
    if (colon == std::string_view::npos) {
      if (default_host.empty()) return std::nullopt;
      ep.host = default_host;
      port_text = text;
    } else {
      // A second colon means an IPv6 address without brackets: its last group
      // and a port cannot be told apart.
      if (text.find(':', colon + 1) != std::string_view::npos) return std::nullopt;
      std::string_view host = text.substr(0, colon);
      if (host.empty()) {
        if (default_host.empty()) return std::nullopt;
        ep.host = default_host;
      } else {
        if (!valid_name(host)) return std::nullopt;
        ep.host = host;
      }
      port_text = text.substr(colon + 1);
    }
  }
  auto port = parse_port(port_text);
  if (!port) return std::nullopt;
  ep.port = *port;
  return ep;
}

std::string to_string(const endpoint_spec& ep) {
  std::string port = std::to_string(ep.port);
  if (ep.host.find(':') != std::string::npos) return '[' + ep.host + "]:" + port;
  return ep.host + ':' + port;
}

}  // namespace rv

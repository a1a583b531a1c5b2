// "host:port", "[v6addr]:port" and, where a default host is given, a bare "port".
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rv {

struct endpoint_spec {
  std::string host;  // a name, an IPv4 address or an IPv6 address without brackets
  std::uint16_t port = 0;
};

// nullopt when malformed: empty host (unless default_host applies), a port
// outside 0..65535 or not all digits, an unbracketed IPv6 address, stray text.
std::optional<endpoint_spec> parse_endpoint(std::string_view text, std::string_view default_host = {});

// The inverse: brackets around hosts that contain ':'.
std::string to_string(const endpoint_spec& ep);

} // namespace rv

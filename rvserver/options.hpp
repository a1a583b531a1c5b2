// rvserver's settings, parsed from argv and --config into a plain struct.
#pragma once
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "rv/endpoint.hpp"

namespace rvserver {

struct options {
  std::vector<rv::endpoint_spec> listen;
  std::string cert_file;
  std::string key_file;
  std::string secrets_file;
  std::chrono::milliseconds grace{3000};        // a client waits this long for a parked connection
  std::size_t max_parked_per_uuid = 64;         // beyond it the oldest parked connection is closed
  std::chrono::seconds handshake_timeout{10};
  std::chrono::seconds head_timeout{10};
  std::chrono::seconds notify_timeout{10};     // the hidden server's answer to an arrival notice
  std::chrono::seconds keepalive{20};
  std::optional<rv::endpoint_spec> metrics;  // Prometheus endpoint (plain HTTP)
  std::string user;                          // run as this user after binding
};

// nullopt when --help or --version was printed. Throws rv::config_error.
std::optional<options> parse_options(int argc, char** argv);

}  // namespace rvserver

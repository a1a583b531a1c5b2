// rvconnect's settings, parsed from argv and --config into a plain struct.
#pragma once
#include <chrono>
#include <optional>
#include <string>

#include "rv/endpoint.hpp"
#include "rv/tls.hpp"

namespace rvconnect {

struct options {
  rv::endpoint_spec server;
  std::string server_name;  // SNI and the name the certificate must carry
  std::string uuid;
  std::optional<rv::endpoint_spec> listen;  // local listener mode; else stdin/stdout
  rv::client_trust trust;
  std::chrono::seconds connect_timeout{10};
  std::chrono::seconds answer_timeout{30};  // the server may wait for a parked connection
};

// nullopt when --help or --version was printed. Throws rv::config_error.
std::optional<options> parse_options(int argc, char** argv);

}  // namespace rvconnect

// rvhidden's settings, parsed from argv and --config into a plain struct.
#pragma once
#include <chrono>
#include <optional>
#include <string>

#include "rv/cli.hpp"

namespace rvhidden {

// server, server_name, trust, connect_timeout: how to reach the rendezvous server.
struct options : rv::cli::server_access {
  std::string uuid;
  std::string secrets_file;  // the line for `uuid` holds the TOTP secret
  rv::endpoint_spec forward; // the local service
  unsigned pool = 4;
  std::chrono::seconds keepalive{20};
  std::chrono::milliseconds backoff_min{1000};
  std::chrono::milliseconds backoff_max{60000};
};

// nullopt when --help or --version was printed. Throws rv::config_error.
std::optional<options> parse_options(int argc, char** argv);

}  // namespace rvhidden

// rvhidden's settings, parsed from argv, the environment and config files
// into a plain struct.
#pragma once
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "rv/server_access.hpp"

namespace rvhidden {

// One UUID served, and the local service its clients are relayed to.
struct service {
  std::string uuid;
  rv::endpoint_spec forward;
};

// How the --server names become nodes: as given (the name is dialled), or
// each address a name resolves to is a node of its own.
enum class server_addresses { first, all };

// servers, server_name, trust, connect_timeout: how to reach the rendezvous
// servers (the nodes of one service: rvhidden parks at each).
struct options : rv::cli::server_access {
  std::vector<service> services;  // at least one; distinct UUIDs
  std::string secrets_file;       // holds a line for each service's UUID
  unsigned pool = 4;              // per service
  // Tunnels open at once, all services: unset means the default that run()
  // derives from the descriptor limit. Per service: 0 means no cap of its own.
  std::optional<unsigned> max_tunnels;
  unsigned max_tunnels_per_service = 0;
  std::chrono::seconds keepalive{20};
  std::chrono::milliseconds backoff_min{1000};
  std::chrono::milliseconds backoff_max{60000};
  server_addresses addresses = server_addresses::first;
  std::chrono::seconds resolve_interval{60};  // resolving again (all), and checking same-node addresses again
};

// nullopt when --help or --version was printed. Throws rv::config_error.
std::optional<options> parse_options(int argc, char** argv);

}  // namespace rvhidden

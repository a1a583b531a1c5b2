// rvconnect's settings, parsed from argv, the environment, config files and
// the names file into a plain struct.
#pragma once
#include <chrono>
#include <optional>
#include <string>

#include "rv/server_access.hpp"

namespace rvconnect {

// servers, server_name, trust, connect_timeout: how to reach the rendezvous server
// (every --server is tried in turn, see failover.hpp).
struct options : rv::cli::server_access {
  std::string uuid;
  // For a 404's message: "; 'x' is not a name in FILE either" when the
  // argument was taken as a UUID after a names file had no entry for it.
  std::string names_note;
  std::optional<rv::endpoint_spec> listen;  // local listener mode; else stdin/stdout
  // Connecting and the TLS handshake at one address, before the next is
  // tried (connect_timeout bounds all attempts together).
  std::chrono::seconds try_timeout{3};
  // The server's answer to CONNECT: it may hold a client for its grace, then
  // for the hidden server's answer to the arrival notice.
  std::chrono::seconds answer_timeout{30};
  std::string client_key;  // from the client keys file, for a server that asks for one
};

// nullopt when --help or --version was printed. Throws rv::config_error.
std::optional<options> parse_options(int argc, char** argv);

}  // namespace rvconnect

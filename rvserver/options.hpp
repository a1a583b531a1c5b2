// rvserver's settings, parsed from argv and --config into a plain struct.
#pragma once
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "rvserver/replay.hpp"
#include "rv/endpoint.hpp"
#include "rv/redis_url.hpp"

namespace rvserver {

struct options {
  std::vector<rv::endpoint_spec> listen;
  std::string cert_file;
  std::string key_file;
  std::string secrets_file;
  std::string client_keys_file;  // optional: UUIDs whose clients must present a key
  std::chrono::milliseconds grace{3000};        // a client waits this long for a parked connection
  std::size_t max_parked_per_uuid = 64;         // beyond it the oldest parked connection is closed
  std::chrono::seconds handshake_timeout{10};
  std::chrono::seconds head_timeout{10};
  std::chrono::seconds notify_timeout{10};     // the hidden server's answer to an arrival notice
  std::chrono::seconds keepalive{20};
  // Limits (SECURITY.md). max_connections 0: the descriptor limit minus a reserve.
  std::size_t max_connections = 0;
  std::size_t max_connections_per_source = 1000;
  double client_rate = 20;   // pairings per second one address may take (0: no limit)
  double client_burst = 40;
  unsigned max_failures = 5;                  // failed tokens per address before delays start
  std::chrono::seconds max_failure_delay{900};
  reuse_policy token_reuse = reuse_policy::same_source;
  std::chrono::seconds credential_lifetime{600};  // 0: issue no pool credentials
  std::chrono::seconds credential_chain{86400};   // renewals end this long after the code registration
  std::chrono::milliseconds idle_timeout{0};         // 0: tunnels may idle forever
  std::chrono::milliseconds half_closed_timeout{0};  // 0: no limit
  std::optional<rv::endpoint_spec> metrics;  // Prometheus endpoint (plain HTTP)
  std::string user;                          // run as this user after binding
  // Several nodes as one service (ARCHITECTURE.md "Cluster").
  std::optional<rv::redis_address> redis;    // --redis: share the gate's memory there
  std::string redis_prefix = "rv:";
  std::chrono::milliseconds redis_timeout{1000};
  bool redis_fallback_local = false;         // --redis-unavailable local: judge codes alone while Redis is down
  std::string redis_ca_file;                 // rediss://: trust this CA instead of the system store
  std::string credential_key_file;           // --pool-credential-key-file: keys shared by the nodes
  std::string ticket_key_file;               // --tls-ticket-key-file: the same, for TLS session tickets
  std::string node_id;                       // --node-id, or "HOSTNAME:PID": names this node in logs and to rvhidden
  bool node_id_given = false;                // then every log line says "rvserver[ID]"
};

// nullopt when --help or --version was printed. Throws rv::config_error.
std::optional<options> parse_options(int argc, char** argv);

}  // namespace rvserver

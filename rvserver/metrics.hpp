// What rvserver counts, and the Prometheus text endpoint (--metrics) that
// shows it. Counters are plain integers: the server is single-threaded.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <string>

#include "rvserver/registry.hpp"
#include "rv/asio.hpp"

namespace rvserver {

struct metrics {
  std::uint64_t connections = 0;         // accepted TCP connections
  std::uint64_t connections_open = 0;    // open now (parked, tunnels, handshakes)
  std::uint64_t connections_dropped = 0; // closed at once: over --max-connections
  std::uint64_t connections_dropped_per_source = 0;  // closed at once: over --max-connections-per-source
  std::uint64_t handshake_failures = 0;  // TLS handshakes that failed or timed out
  std::uint64_t registrations = 0;       // hidden-server connections parked
  std::uint64_t pairings = 0;            // tunnels opened
  std::uint64_t tunnels_open = 0;        // live now
  std::uint64_t bytes_up = 0;            // client -> hidden server
  std::uint64_t bytes_down = 0;          // hidden server -> client
  std::map<int, std::uint64_t> answers;  // error answers by status (401, 404, 429, ...)
  std::string node;                      // --node-id: a label of rv_node_info
  bool redis_used = false;               // --redis was given
  bool redis_up = false;
  std::uint64_t redis_unavailable = 0;   // registrations Redis was needed for while it was down


  // Time from a client's request head to its tunnel opening.
  static constexpr std::array<double, 12> latency_bounds{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                         0.1,   0.25,   0.5,   1,    2.5,   5};
  std::array<std::uint64_t, latency_bounds.size()> latency_buckets{};  // non-cumulative
  std::uint64_t latency_count = 0;
  double latency_sum = 0;

  void observe_pairing_latency(double seconds);

  // The Prometheus text exposition format (version 0.0.4), with the parked
  // connections per UUID taken from `parking`.
  std::string render(const registry& parking) const;
};

// Serves GET /metrics on `acceptor` (plain HTTP, no authentication: bind it
// to loopback, or put an authenticating proxy in front) until the acceptor
// closes, at most 16 connections at once (more are closed unread), each
// within 5 s. `stats` and `parking` must outlive it.
rv::awaitable<void> serve_metrics(rv::tcp::acceptor& acceptor, const metrics& stats, const registry& parking);

}  // namespace rvserver

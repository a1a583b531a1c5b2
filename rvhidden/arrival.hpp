// The tunnels rvhidden opens for arriving clients: the caps on how many are
// open at once, the refusals at a cap, and the coroutine of each tunnel, which
// dials the local service, answers the arrival notice and relays.
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "rv/asio.hpp"
#include "rv/tls_stream.hpp"
#include "rvhidden/options.hpp"

namespace rvhidden {

// The tunnels of every service; run() owns it, and it outlives them all.
struct tunnel_counts {
  std::size_t max = 0;           // --max-tunnels, or tunnel_cap()'s default
  unsigned max_per_service = 0;  // --max-tunnels-per-service; 0: no cap of its own
  std::size_t open = 0;
  std::uint64_t next_id = 1;  // tunnel=N in log lines
  // Refusals at a cap: one warning, then a count a minute while it lasts.
  rv::steady_clock::time_point refusal_logged{};
  std::uint64_t refusals_unlogged = 0;
};

// One service's tunnels; run() owns it (with the service's other state), and
// it outlives them.
struct service_tunnels {
  tunnel_counts& all;
  const service& svc;                    // the UUID (for logs) and --forward
  std::chrono::seconds connect_timeout;  // dialing --forward, and the answer to a notice
  std::size_t open = 0;                  // --max-tunnels-per-service
};

// --max-tunnels, or the default: what the descriptor limit leaves beside the
// parked slots and a reserve, two descriptors a tunnel, at most 1024 (at
// least 1, with a warning). Warns when --max-tunnels exceeds what fits.
std::size_t tunnel_cap(const options& opts, std::size_t descriptor_limit);

// Serves one client on its own; spawn it detached. `tunnel` is the parked
// connection a client took, `first_bytes` what came after the notice (or a
// seed server's client's first bytes), `mode` the notice's "stream" or
// "http", or "seed", and `client` its address for log lines. At a cap it
// refuses with a 503, and with a 502 when --forward cannot be reached (in
// stream and http mode; a seed server's client is just closed); else it
// answers a stream notice with 200 and relays. Logs what happens and never throws.
rv::awaitable<void> guarded_arrival(std::unique_ptr<rv::tls_stream> tunnel, std::string first_bytes,
                                    std::string mode, std::string client, service_tunnels& st);

}  // namespace rvhidden

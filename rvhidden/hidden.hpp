// The hidden server: a pool of slots, each a loop that dials the rendezvous
// server, registers, waits parked for a client, hands the tunnel to its own
// coroutine (which dials the local service and relays) and dials again at
// once. Failures back off exponentially with jitter, per slot.
#pragma once
#include "rvhidden/options.hpp"

namespace rvhidden {

// Runs until SIGINT/SIGTERM; returns the exit code. Throws rv::config_error
// for an unusable secrets file, UUID or CA file.
int run(const options& opts);

}  // namespace rvhidden

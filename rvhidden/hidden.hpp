// The hidden server: at each node (each --server, or each address of one
// with --server-addresses all) a pool of slots, each a loop that dials the
// node, registers, waits parked for a client, hands the tunnel to its own
// coroutine (which dials the local service and relays) and dials again at
// once. Failures back off exponentially with jitter, per slot, so a node
// that is down or silent delays no other. A node's first slot parks alone;
// the rest start once it has: its answer tells a seed server (a pool of one)
// and an address of a node parked at already (drained). Addresses are
// resolved again every --resolve-interval.
#pragma once
#include "rvhidden/options.hpp"

namespace rvhidden {

// Runs until SIGINT/SIGTERM; returns the exit code. Throws rv::config_error
// for an unusable secrets file, UUID or CA file.
int run(const options& opts);

}  // namespace rvhidden

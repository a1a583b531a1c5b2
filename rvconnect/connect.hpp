// The client: opens a tunnel to UUID through the rendezvous server and relays
// it to stdin/stdout, or to each connection accepted on a local listener.
#pragma once
#include "options.hpp"

namespace rvconnect {

// stdio mode returns when the tunnel ends (exit code 0, or throws
// rv::exit_error with the code for the server's refusal); listener mode runs
// until SIGINT/SIGTERM.
int run(const options& opts);

}  // namespace rvconnect

// The rendezvous server: accept loops, one session coroutine per connection.
//
// A session does the TLS handshake and reads one request head, each within a
// deadline, then becomes one of: a parked hidden-server connection (watched
// for a close until a client takes it), a client tunnel (which owns both
// streams and relays until both ends are done), or an error answer.
#pragma once
#include "options.hpp"

namespace rvserver {

// Runs until SIGINT/SIGTERM. Returns the exit code. Throws rv::config_error
// for bad certificates or secrets, std::system_error when it cannot listen.
int run(const options& opts);

}  // namespace rvserver

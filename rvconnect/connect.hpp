// The client: opens a tunnel to UUID through the rendezvous server and relays
// it to stdin/stdout, or to each connection accepted on a local listener.
#pragma once
#include <string_view>

#include "rv/error.hpp"
#include "rvconnect/options.hpp"

namespace rvconnect {

// stdio mode returns when the tunnel ends (exit code 0, or throws
// rv::exit_error with the code for the server's refusal); listener mode runs
// until SIGINT/SIGTERM.
int run(const options& opts);

// The error for a server's answer other than 200 to our CONNECT, `body` being
// the answer's body (its diagnostic is quoted): the exit code a script can
// act on (3 for 404, 4 for 502 and 504, else 5) and the message the user reads.
rv::exit_error refusal_error(const options& o, int status, std::string_view body);

}  // namespace rvconnect
